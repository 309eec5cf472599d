package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/examples"
	"github.com/partnercenter/multichannel/internal/auth"
	"github.com/partnercenter/multichannel/internal/command"
	"github.com/partnercenter/multichannel/internal/playground"
)

// Demo tenants of development mode. Their ids are fixed so that a token
// printed at one start still names the same tenants after a restart.
var (
	DemoPartnerID  = uuid.MustParse("11111111-1111-4111-8111-111111111111") // Contoso CSP: the partner you play
	otherPartnerID = uuid.MustParse("33333333-3333-4333-8333-333333333333") // Northwind CSP: a competitor
	DemoCustomerID = uuid.MustParse("22222222-2222-4222-8222-222222222222") // Fabrikam: a customer
)

type demo struct {
	playgroundToken string
	users           []demoUser
	// seeded says what -seed did (empty without -seed).
	seeded string
	// roles are the demo users with their tokens, for the playground's
	// role switcher, in the order they are printed.
	roles []playground.Role
}

// demoUser is one printed demo user: who it is and its bearer token.
type demoUser struct {
	label, token string
}

// setUpDemo mints tokens for one demo user per role (and the demo
// customer's Global admin) and records the demo data when asked to
// (-seed). A token lives 24 hours. Nothing is printed here: Serve prints
// the banner once it knows the address it listens on.
func setUpDemo(ctx context.Context, cfg Config, commands *command.Handlers, secret []byte) (demo, error) {
	now := time.Now()
	type user struct {
		label  string
		tenant uuid.UUID
		role   domain.Role
	}
	users := []user{
		{"Contoso CSP, Global admin", DemoPartnerID, domain.RoleGlobalAdmin},
		{"Contoso CSP, User admin", DemoPartnerID, domain.RoleUserAdmin},
		{"Contoso CSP, Sales agent", DemoPartnerID, domain.RoleSalesAgent},
		{"Contoso CSP, Admin agent (may not act)", DemoPartnerID, domain.RoleAdminAgent},
		{"Contoso CSP, Billing admin (may not act)", DemoPartnerID, domain.RoleBillingAdmin},
		{"Auditor (reads everything)", DemoPartnerID, domain.RoleAuditor},
		{"Fabrikam (customer), Global admin", DemoCustomerID, domain.RoleGlobalAdmin},
		{"Northwind CSP, Global admin", otherPartnerID, domain.RoleGlobalAdmin},
	}
	var d demo
	for i, u := range users {
		a := domain.Actor{UserID: fmt.Sprintf("demo-%s-%d", u.role, i), TenantID: u.tenant, Role: u.role}
		tok, err := auth.MintHS256(secret, a, 24*time.Hour, now)
		if err != nil {
			return demo{}, fmt.Errorf("mint demo token: %w", err)
		}
		if i == 0 {
			d.playgroundToken = tok
		}
		d.users = append(d.users, demoUser{u.label, tok})
		d.roles = append(d.roles, playground.Role{Label: u.label, Token: tok})
	}
	if cfg.Seed {
		recorded, err := seedDemo(ctx, commands)
		if err != nil {
			return demo{}, fmt.Errorf("seed demo data: %w", err)
		}
		if recorded {
			d.seeded = "Demo data recorded: partners Contoso CSP and Northwind CSP, customer Fabrikam with four subscriptions."
		} else {
			d.seeded = "Demo data already present (the demo partner Contoso CSP is enrolled in this log): nothing recorded."
		}
	}
	return d, nil
}

// printBanner is the start-up output of development mode: where to click
// first, then who you can be. base is the server's URL (http://host:port).
func (d demo) printBanner(w io.Writer, base string, playground bool) {
	if playground {
		fmt.Fprintf(w, "Playground: %s/  (signed in as %s)\n", base, d.users[0].label)
	}
	fmt.Fprintf(w, "GraphQL:    %s/graphql\n", base)
	if d.seeded != "" {
		fmt.Fprintln(w, d.seeded)
	}
	fmt.Fprintln(w, "\nDemo users, one per role (bearer tokens valid 24 h; send `Authorization: Bearer <token>`):")
	for _, u := range d.users {
		fmt.Fprintf(w, "\n  %s\n  %s\n", u.label, u.token)
	}
	fmt.Fprintln(w)
}

// baseURL is the URL a browser on this machine uses for addr: a listener
// on every interface (":8080", "[::]:8080") is reached at localhost.
func baseURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// seedDemo records the demo data through the command handlers, like any
// client would, and says whether it did: it is a no-op (false) when the
// demo partner is already enrolled.
func seedDemo(ctx context.Context, commands *command.Handlers) (bool, error) {
	as := func(tenant uuid.UUID) command.Request {
		return command.Request{
			Caller:        domain.Actor{UserID: "demo-seed", TenantID: tenant, Role: domain.RoleGlobalAdmin},
			CorrelationID: uuid.Must(uuid.NewV7()),
		}
	}
	if _, err := commands.EnrollPartner(ctx, as(DemoPartnerID), command.EnrollPartner{Name: "Contoso CSP", Cloud: domain.CloudPublic}); err != nil {
		if errors.Is(err, domain.ErrConflict) {
			return false, nil
		}
		return false, err
	}
	if _, err := commands.EnrollPartner(ctx, as(otherPartnerID), command.EnrollPartner{Name: "Northwind CSP", Cloud: domain.CloudPublic}); err != nil && !errors.Is(err, domain.ErrConflict) {
		return false, err
	}
	id := DemoCustomerID.String()
	if _, err := commands.OnboardCustomer(ctx, as(DemoPartnerID), command.OnboardCustomer{
		ID: &id, Name: "Fabrikam", Domain: "fabrikam.onmicrosoft.com", Cloud: domain.CloudPublic,
	}); err != nil && !errors.Is(err, domain.ErrConflict) {
		return false, err
	}
	termEnd := time.Now().UTC().AddDate(0, 6, 0).Truncate(time.Millisecond)
	other := otherPartnerID.String()
	subs := []command.RecordExternalSubscription{
		{CustomerID: id, Offer: "Microsoft 365 E3", BillingModel: domain.LicenseBased, Channel: domain.ChannelMicrosoftDirect, TermEndsAt: &termEnd, Quantity: 25},
		{CustomerID: id, Offer: "Microsoft 365 Business Premium", BillingModel: domain.LicenseBased, Channel: domain.ChannelCSPPartner, SellerPartnerID: &other, TermEndsAt: &termEnd, Quantity: 10},
		{CustomerID: id, Offer: "Azure plan (EA)", BillingModel: domain.UsageBased, Channel: domain.ChannelEnterpriseAgreement, Quantity: 1, Services: []string{"Virtual Machines", "Azure SQL Database"}},
		{CustomerID: id, Offer: "Azure plan", BillingModel: domain.UsageBased, Channel: domain.ChannelCSPPartner, SellerPartnerID: &other, Quantity: 1, Services: []string{"App Service"}},
	}
	for _, s := range subs {
		if _, err := commands.RecordExternalSubscription(ctx, as(DemoCustomerID), s); err != nil {
			return false, err
		}
	}
	return true, nil
}

// playgroundTabs are the example operations as the playground's tabs, each
// as the demo user its Role: line names.
func playgroundTabs() ([]playground.Tab, error) {
	all, err := examples.All()
	if err != nil {
		return nil, fmt.Errorf("playground examples: %w", err)
	}
	tabs := make([]playground.Tab, 0, len(all))
	for _, e := range all {
		tabs = append(tabs, playground.Tab{Query: e.Document, Variables: string(e.Variables), Role: e.Role})
	}
	return tabs, nil
}
