package domain_test

import (
	"testing"

	"github.com/partnercenter/multichannel/domain"
)

func TestEnrollPartner(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		given   []domain.Event
		pname   string
		cloud   domain.Cloud
		want    []domain.Event
		wantErr error
	}{
		{"new", nil, " Contoso ", domain.CloudPublic, []domain.Event{domain.PartnerEnrolled{PartnerID: pA, Name: "Contoso", Cloud: domain.CloudPublic}}, nil},
		{"blank name", nil, "  ", domain.CloudPublic, nil, domain.ErrBadUserInput},
		{"unknown cloud", nil, "Contoso", "MOON", nil, domain.ErrBadUserInput},
		{"already enrolled", []domain.Event{enrolled(pA, domain.CloudPublic)}, "Contoso", domain.CloudPublic, nil, domain.ErrConflict},
		{"order: input before conflict", []domain.Event{enrolled(pA, domain.CloudPublic)}, "", domain.CloudPublic, nil, domain.ErrBadUserInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := fold[domain.Partner](t, tt.given...).Enroll(pA, tt.pname, tt.cloud)
			then(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestOnboardCustomer(t *testing.T) {
	t.Parallel()
	want := []domain.Event{domain.CustomerOnboarded{CustomerID: custC, Name: "Fabrikam", Domain: "fabrikam.example.com", Cloud: domain.CloudPublic, OnboardedBy: pA}}
	tests := []struct {
		name    string
		given   []domain.Event
		by      *domain.Partner
		domain  string
		cloud   domain.Cloud
		want    []domain.Event
		wantErr error
	}{
		{"new", nil, partner(t, pA, domain.CloudPublic), "fabrikam.example.com", domain.CloudPublic, want, nil},
		{"not a host name", nil, partner(t, pA, domain.CloudPublic), "not a host", domain.CloudPublic, nil, domain.ErrBadUserInput},
		{"cloud mismatch", nil, partner(t, pA, domain.CloudPublic), "fabrikam.example.com", domain.CloudUSGovernment, nil, domain.ErrCloudMismatch},
		{"exists", []domain.Event{onboarded(custC, pB, domain.CloudPublic, false)}, partner(t, pA, domain.CloudPublic), "fabrikam.example.com", domain.CloudPublic, nil, domain.ErrConflict},
		{"order: cloud before conflict", []domain.Event{onboarded(custC, pB, domain.CloudPublic, false)}, partner(t, pA, domain.CloudPublic), "fabrikam.example.com", domain.CloudUSGovernment, nil, domain.ErrCloudMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := fold[domain.Customer](t, tt.given...).Onboard(tt.by, custC, "Fabrikam", tt.domain, tt.cloud, false)
			then(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestIsHostName(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"fabrikam.onmicrosoft.com": true, "x1a2b3c4d.example.com": true, "A-b.Example.COM": true,
		"": false, "localhost": false, "not a host": false, "-a.com": false, "a-.com": false,
		"a..com": false, "a.com.": false, "10.0.0.1": false, "a_b.com": false, "é.com": false,
	} {
		if got := domain.IsHostName(s); got != want {
			t.Errorf("IsHostName(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestIsCSPPartner(t *testing.T) {
	t.Parallel()
	if customer(t, custC, domain.CloudPublic, false).IsCSPPartner(false) {
		t.Error("plain customer reads as a CSP partner")
	}
	if !customer(t, custC, domain.CloudPublic, true).IsCSPPartner(false) {
		t.Error("flag ignored")
	}
	if !customer(t, custC, domain.CloudPublic, false).IsCSPPartner(true) {
		t.Error("enrolment ignored")
	}
}
