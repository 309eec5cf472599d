package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/esdb"
)

// The multi-process test runs the production shape on loopback: one
// EventStoreDB node (the protocol double, cmd/esdbdouble, as a process)
// and three API servers (the real binary) on it, each a process of its
// own, so that nothing is shared but the log.

// buildCmd builds the command in the module's directory pkg (relative to
// the module's root) once per run, next to the server binary.
func buildCmd(t *testing.T, name, pkg string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the multi-process tests build binaries")
	}
	builtCmdsMu.Lock()
	b, ok := builtCmds[name]
	if !ok {
		b = &builtCmd{}
		builtCmds[name] = b
	}
	builtCmdsMu.Unlock()
	b.once.Do(func() {
		gobin, err := exec.LookPath("go")
		if err != nil {
			gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		b.bin = filepath.Join(binDir, name)
		cmd := exec.Command(gobin, "build", "-o", b.bin, "../"+pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.bin
}

type builtCmd struct {
	once sync.Once
	bin  string
	err  error
}

var (
	builtCmdsMu sync.Mutex
	builtCmds   = map[string]*builtCmd{}
)

// doubleProc is the EventStoreDB double running as a process.
type doubleProc struct {
	url     string // esdb://...
	control string // http://... of its control port
}

func startDouble(t *testing.T) *doubleProc {
	t.Helper()
	bin := buildCmd(t, "esdbdouble", "cmd/esdbdouble")
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-control", "127.0.0.1:0", "-data", filepath.Join(t.TempDir(), "log"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the double: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("double's logs:\n%s", logs.String())
		}
	})
	d := &doubleProc{}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, out)
	}()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the double exited at start-up:\n%s", logs.String())
			}
			switch {
			case strings.HasPrefix(l, "ESDB_URL="):
				d.url = strings.TrimPrefix(l, "ESDB_URL=")
			case strings.HasPrefix(l, "CONTROL_URL="):
				d.control = strings.TrimPrefix(l, "CONTROL_URL=")
			case l == "READY":
				go func() {
					for range lines {
					}
				}()
				return d
			}
		case <-timeout:
			t.Fatal("the double not ready within 20s")
		}
	}
}

// post calls the double's control port (stop, start).
func (d *doubleProc) post(t *testing.T, what string) {
	t.Helper()
	resp, err := http.Post(d.control+"/"+what, "text/plain", nil)
	if err != nil {
		t.Fatalf("control %s: %v", what, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("control %s: HTTP %d", what, resp.StatusCode)
	}
}

// productEvents leaves out the events of streams the read models do not
// fold (the command side's Idempotency-Key claims), so that their number
// is what an auditor's events count answers.
func productEvents(all []eventstore.RecordedEvent) []eventstore.RecordedEvent {
	var out []eventstore.RecordedEvent
	for _, e := range all {
		switch cat, _, _ := domain.SplitStream(e.Stream); cat {
		case domain.CategoryPartner, domain.CategoryCustomer, domain.CategorySubscription, domain.CategoryRelationship:
			out = append(out, e)
		}
	}
	return out
}

// readAll reads the whole log from the node, as a client of it.
func (d *doubleProc) readAll(t *testing.T) []eventstore.RecordedEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := esdb.Open(ctx, d.url)
	if err != nil {
		t.Fatalf("open the node: %v", err)
	}
	defer s.Close()
	var all []eventstore.RecordedEvent
	pos := eventstore.Start
	for {
		evs, err := s.ReadAll(ctx, pos, 1000)
		if err != nil {
			t.Fatalf("read the log: %v", err)
		}
		all = append(all, evs...)
		if len(evs) < 1000 {
			return all
		}
		pos = evs[len(evs)-1].Position
	}
}

// startAPI starts bin on the node with the given extra environment and
// arguments, and waits until /readyz answers 200.
func startAPI(t *testing.T, bin, esdbURL string, env []string, args ...string) *childServer {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{
		"APP_ENV=production",
		"JWT_SECRET=" + testSecret,
		"EVENTSTORE_URL=" + esdbURL,
		"HTTP_ADDR=" + addr,
		"RATE_LIMIT=0",
		"REQUEST_LOG=false",
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"EVENTS_DB=" + filepath.Join(t.TempDir(), "unused.db"),
	}, env...)
	c := &childServer{t: t, cmd: cmd, url: "http://" + addr, logs: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c.logs, c.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start server: %v", err)
	}
	go func() { c.err = cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-c.done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-c.done
			}
		}
		if t.Failed() {
			t.Logf("server %s logs:\n%s", c.url, c.logs.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for readyz(c.url) != http.StatusOK {
		select {
		case <-c.done:
			t.Fatalf("server exited at start-up: %v\n%s", c.err, c.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready within 20s\n%s", c.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c
}

// readyz is the status /readyz answers, 0 without an answer.
func readyz(url string) int {
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get(url + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// awaitFolded waits until every server's read models hold n events.
func awaitFolded(t *testing.T, servers []*testServer, n int) {
	t.Helper()
	for _, ts := range servers {
		auditor := ts.user(uuid.New(), domain.RoleAuditor)
		awaitCondition(t, "server "+ts.url+" folds the log", func() bool { return ts.eventCount(auditor) >= n })
	}
}

// cluster is the node and the API servers of the multi-process test.
type cluster struct {
	t       *testing.T // the whole test's: the servers live as long as it
	node    *doubleProc
	bin     string
	procs   []*childServer
	servers []*testServer
}

func (c *cluster) tsFor(t *testing.T, i int) *testServer {
	ts := c.servers[i%len(c.servers)].forTest(t)
	return ts
}

func (c *cluster) foldAll(t *testing.T) int {
	t.Helper()
	n := len(productEvents(c.node.readAll(t)))
	var ss []*testServer
	for _, s := range c.servers {
		ss = append(ss, s.forTest(t))
	}
	awaitFolded(t, ss, n)
	return n
}

// TestMultiProcess runs three API servers on one node, each a process,
// and checks what must hold whichever server answers. Its scenarios run in
// order on the same node and servers.
func TestMultiProcess(t *testing.T) {
	node := startDouble(t)
	c := &cluster{t: t, node: node, bin: buildServer(t)}
	for range 3 {
		p := startAPI(t, c.bin, node.url, nil, "-mutation-timeout", "2s")
		c.procs = append(c.procs, p)
		c.servers = append(c.servers, p.testServer())
	}
	t.Run("race", func(t *testing.T) { testRaceAcrossServers(t, c) })
	t.Run("live-feed", func(t *testing.T) { testLiveFeedAcrossServers(t, c) })
	t.Run("kill", func(t *testing.T) { testKillUnderLoad(t, c) })
	t.Run("expiry", func(t *testing.T) { testExpiryAcrossServers(t, c) })
	t.Run("node-outage", func(t *testing.T) { testNodeOutage(t, c) })
	t.Run("idempotency", func(t *testing.T) { testIdempotencyAcrossServers(t, c) })
	t.Run("consistency-token", func(t *testing.T) { testConsistencyToken(t, c) })
}

// tenants enrolls partners and onboards customers through server 0, and
// waits until every server has folded them.
func (c *cluster) tenants(t *testing.T, customers int) (partner, competitor uuid.UUID, cs []uuid.UUID) {
	t.Helper()
	ts := c.tsFor(t, 0)
	partner, competitor = uuid.New(), uuid.New()
	ts.user(partner, domain.RoleGlobalAdmin).ok(nil, mEnroll, map[string]any{"in": map[string]any{"name": "Contoso CSP", "cloud": "PUBLIC"}})
	ts.user(competitor, domain.RoleGlobalAdmin).ok(nil, mEnroll, map[string]any{"in": map[string]any{"name": "Northwind CSP", "cloud": "PUBLIC"}})
	for range customers {
		cu := uuid.New()
		ts.user(partner, domain.RoleSalesAgent).ok(nil, mOnboard, onboardVars(cu))
		cs = append(cs, cu)
	}
	c.foldAll(t)
	return partner, competitor, cs
}

// testRaceAcrossServers: 30 requests for one partner and customer, spread
// over the three servers at once: exactly one wins, the others CONFLICT.
func testRaceAcrossServers(t *testing.T, c *cluster) {
	_, competitor, cs := c.tenants(t, 1)
	var wg sync.WaitGroup
	codes := make([]string, 30)
	start := make(chan struct{})
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ts := c.tsFor(t, i)
			cl := newLoadClient(ts.url)
			tok := ts.user(competitor, domain.RoleGlobalAdmin).token
			<-start
			r, err := cl.post(tok, mRequest, map[string]any{"in": map[string]any{"customerId": cs[0].String()}})
			switch {
			case err != nil:
				codes[i] = "transport: " + err.Error()
			case len(r.Errors) > 0:
				codes[i] = r.code()
			default:
				codes[i] = "OK"
			}
		}()
	}
	close(start)
	wg.Wait()
	count := map[string]int{}
	for _, code := range codes {
		count[code]++
	}
	if count["OK"] != 1 || count["CONFLICT"] != 29 {
		t.Fatalf("30 racing requests over 3 servers: %v, want 1 OK and 29 CONFLICT", count)
	}
	requested := 0
	for _, e := range c.node.readAll(t) {
		if e.Type == domain.TypeRelationshipRequested && strings.Contains(string(e.Data), cs[0].String()) {
			requested++
		}
	}
	if requested != 1 {
		t.Fatalf("%d RelationshipRequested for the customer in the log, want 1", requested)
	}
}

// testLiveFeedAcrossServers: a live feed on one server delivers an event
// appended through another.
func testLiveFeedAcrossServers(t *testing.T, c *cluster) {
	_, _, cs := c.tenants(t, 1)
	feed := c.tsFor(t, 1)
	ws, err := dialWS(t, feed, feed.user(cs[0], domain.RoleGlobalAdmin).token)
	if err != nil {
		t.Fatal(err)
	}
	ws.send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query": `subscription { eventAppended(filter: {types: ["ExternalSubscriptionRecorded"]}) { type stream } }`}})
	// The subscription is live once the server has registered it, which
	// the client cannot see: append through server 2 until an event
	// arrives, and check it is one of those appends.
	writer := c.tsFor(t, 2)
	gaOnWriter := writer.user(cs[0], domain.RoleGlobalAdmin)
	appended := map[string]bool{}
	got := make(chan map[string]any, 1)
	go func() {
		msg, err := ws.read(15 * time.Second)
		if err != nil {
			msg = map[string]any{"error": err.Error()}
		}
		got <- msg
	}()
	deadline := time.After(15 * time.Second)
	for k := 0; ; k++ {
		var d struct{ RecordExternalSubscription struct{ ID string } }
		gaOnWriter.ok(&d, mRecordOffer, map[string]any{"in": map[string]any{
			"customerId": cs[0].String(), "offer": fmt.Sprintf("live-%d", k), "billingModel": "USAGE_BASED", "channel": "OPEN", "quantity": 1}})
		appended["subscription-"+d.RecordExternalSubscription.ID] = true
		select {
		case msg := <-got:
			stream, _ := pick(msg, "payload", "data", "eventAppended", "stream").(string)
			if msg["type"] != "next" || !appended[stream] {
				t.Fatalf("live event on server 1: %v, want one of the appends through server 2 %v", msg, appended)
			}
			return
		case <-deadline:
			t.Fatal("no event on server 1 for appends through server 2 within 15s")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// testKillUnderLoad: 24 clients spread over the three servers, one server
// killed with SIGKILL and started again: every acknowledged mutation is in
// the log once, none twice.
func testKillUnderLoad(t *testing.T, c *cluster) {
	_, _, cs := c.tenants(t, 3)
	recs := make([]*recording, 3)
	stop := make(chan struct{})
	var killedAt atomic.Int64
	var wgs []*sync.WaitGroup
	for i := range 3 {
		// One customer per server, so that each recording's offers are
		// its own; every server still writes the same log.
		ts := c.tsFor(t, i)
		recs[i] = &recording{acked: map[string]string{}, refused: map[string]int{}}
		wgs = append(wgs, runLoad(8, ts.url, ts.user(cs[i], domain.RoleGlobalAdmin).token, cs[i], recs[i], stop, &killedAt))
	}
	deadline := time.Now().Add(10 * time.Second)
	for recs[1].ackedCount() < 200 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	killedAt.Store(time.Now().UnixNano())
	c.procs[1].signal(syscall.SIGKILL)
	// The others go on under load for a moment.
	acked := recs[0].ackedCount() + recs[2].ackedCount()
	for recs[0].ackedCount()+recs[2].ackedCount() < acked+100 && time.Now().Before(deadline.Add(5*time.Second)) {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	for _, wg := range wgs {
		wg.Wait()
	}
	c.procs[1] = startAPI(c.t, c.bin, c.node.url, nil, "-mutation-timeout", "2s")
	c.servers[1] = c.procs[1].testServer()
	c.foldAll(t)

	for i, rec := range recs {
		ts := c.tsFor(t, (i+1)%3) // another server than the one written through
		served := servedSubscriptions(ts.user(uuid.New(), domain.RoleAuditor), cs[i])
		byOffer := map[string][]string{}
		for _, s := range served {
			byOffer[s.Offer] = append(byOffer[s.Offer], s.ID)
		}
		lost, doubled := 0, 0
		for offer, id := range rec.acked {
			if ids := byOffer[offer]; len(ids) == 0 || ids[0] != id {
				lost++
				t.Errorf("server %d acknowledged %s as %s; served %v", i, offer, id, ids)
			}
		}
		for offer, ids := range byOffer {
			if len(ids) > 1 {
				doubled++
				t.Errorf("%s recorded %d times: %v", offer, len(ids), ids)
			}
		}
		for code, n := range rec.refused {
			if code != "UNAVAILABLE" && code != "CONFLICT" {
				t.Errorf("server %d refused %d mutations with %s", i, n, code)
			}
		}
		t.Logf("server %d: acknowledged %d, lost %d, doubled %d, in flight at the kill %d, refused %v, no answer %d",
			i, len(rec.acked), lost, doubled, rec.inFlight, rec.refused, rec.transport)
	}
	if recs[1].ackedCount() == 0 {
		t.Fatal("nothing acknowledged by the killed server")
	}
}

// testExpiryAcrossServers: three servers in development mode whose clocks
// are moved to just short of 90 days ahead sweep the same requests as they
// come due: exactly one RelationshipExpired each.
func testExpiryAcrossServers(t *testing.T, c *cluster) {
	const requests = 5
	var sweepers []*childServer
	for range 3 {
		// Due 2 s after they are requested, by these servers' clock.
		sweepers = append(sweepers, startAPI(t, c.bin, c.node.url,
			[]string{"APP_ENV=development", fmt.Sprintf("CLOCK_OFFSET=%s", 90*24*time.Hour-2*time.Second)},
			"-expiry-sweep", "20ms"))
	}
	_, competitor, cs := c.tenants(t, requests)
	var ids []string
	for i, cu := range cs {
		ts := c.tsFor(t, i)
		var d struct{ RequestResellerRelationship relOut }
		ts.user(competitor, domain.RoleGlobalAdmin).ok(&d, mRequest, map[string]any{"in": map[string]any{"customerId": cu.String()}})
		ids = append(ids, d.RequestResellerRelationship.ID)
	}
	expired := func() map[string]int {
		n := map[string]int{}
		for _, e := range c.node.readAll(t) {
			if e.Type != domain.TypeRelationshipExpired {
				continue
			}
			for _, id := range ids {
				if strings.Contains(e.Stream, id) {
					n[id]++
				}
			}
		}
		return n
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(expired()) < requests {
		if time.Now().After(deadline) {
			t.Fatalf("expired %v of %v within 20s", expired(), ids)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Every sweeper has folded the expiries, so none has them as due any
	// longer; a sweeper that had raced and lost would have appended by now.
	n := len(productEvents(c.node.readAll(t)))
	var ss []*testServer
	for _, s := range sweepers {
		ss = append(ss, s.testServer())
	}
	awaitFolded(t, ss, n)
	time.Sleep(200 * time.Millisecond) // ten more sweeps on each server
	for id, k := range expired() {
		if k != 1 {
			t.Errorf("relationship %s: %d RelationshipExpired, want 1", id, k)
		}
	}
	for _, s := range sweepers {
		s.signal(syscall.SIGTERM)
		if err := s.wait(20 * time.Second); err != nil {
			t.Errorf("sweeper exit: %v", err)
		}
	}
}

// testNodeOutage: the node's listener closed and reopened while the
// servers run, its data kept: /readyz reports the outage and the
// recovery, the servers reconnect and nothing acknowledged is lost.
func testNodeOutage(t *testing.T, c *cluster) {
	_, _, cs := c.tenants(t, 1)
	before := c.node.readAll(t)
	c.node.post(t, "stop")
	for i := range c.servers {
		url := c.servers[i].url
		awaitCondition(t, fmt.Sprintf("server %d reports the outage on /readyz", i), func() bool { return readyz(url) == http.StatusServiceUnavailable })
	}
	ga := c.tsFor(t, 0).user(cs[0], domain.RoleGlobalAdmin)
	rec := func(u *user, offer string) gqlResponse {
		return u.do(mRecordOffer, map[string]any{"in": map[string]any{
			"customerId": cs[0].String(), "offer": offer, "billingModel": "USAGE_BASED", "channel": "OPEN", "quantity": 1}})
	}
	if r := rec(ga, "during-outage"); r.code() != "UNAVAILABLE" {
		t.Fatalf("a mutation while the node is away: %+v, want UNAVAILABLE", r.Errors)
	}
	c.node.post(t, "start")
	for i := range c.servers {
		url := c.servers[i].url
		awaitCondition(t, fmt.Sprintf("server %d reports the recovery on /readyz", i), func() bool { return readyz(url) == http.StatusOK })
	}
	for i := range c.servers {
		u := c.tsFor(t, i).user(cs[0], domain.RoleGlobalAdmin)
		awaitCondition(t, fmt.Sprintf("server %d writes again", i), func() bool { return rec(u, fmt.Sprintf("after-outage-%d", i)).code() == "" })
	}
	after := c.node.readAll(t)
	if len(after) < len(before) {
		t.Fatalf("the log has %d events after the outage, %d before", len(after), len(before))
	}
	for i, e := range before {
		if after[i].ID != e.ID || after[i].Position != e.Position {
			t.Fatalf("event %d changed over the outage: %v at %v, now %v at %v", i, e.ID, e.Position, after[i].ID, after[i].Position)
		}
	}
	c.foldAll(t)
}

// consistencyToken is the X-Consistency-Token a mutation's answer carries,
// or "" when the server does not send one.
func consistencyToken(r gqlResponse) string { return r.header.Get("X-Consistency-Token") }

// needsToken fails the test unless the servers send consistency tokens: a
// server that stopped sending them would otherwise pass the token tests
// without testing anything.
func (c *cluster) needsToken(t *testing.T, cu uuid.UUID) {
	t.Helper()
	r := c.tsFor(t, 0).user(cu, domain.RoleGlobalAdmin).do(mRecordOffer, map[string]any{"in": map[string]any{
		"customerId": cu.String(), "offer": "probe", "billingModel": "USAGE_BASED", "channel": "OPEN", "quantity": 1}})
	if r.code() != "" {
		t.Fatalf("probe mutation: %+v", r.Errors)
	}
	if consistencyToken(r) == "" {
		t.Fatalf("a successful mutation answered no consistency token: %+v", r)
	}
}

// testIdempotencyAcrossServers: the same Idempotency-Key and request sent
// to the three servers at once, 20 times: one object each time.
func testIdempotencyAcrossServers(t *testing.T, c *cluster) {
	_, _, cs := c.tenants(t, 1)
	c.needsToken(t, cs[0])
	for round := range 20 {
		key := uuid.NewString()
		offer := fmt.Sprintf("idem-%02d", round)
		ids := make([]string, 3)
		codes := make([]string, 3)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				u := c.tsFor(t, i).user(cs[0], domain.RoleGlobalAdmin)
				<-start
				r := u.do(mRecordOffer, map[string]any{"in": map[string]any{
					"customerId": cs[0].String(), "offer": offer, "billingModel": "USAGE_BASED", "channel": "OPEN", "quantity": 1}},
					"Idempotency-Key", key)
				codes[i] = r.code()
				var d struct{ RecordExternalSubscription struct{ ID string } }
				json.Unmarshal(r.Data, &d)
				ids[i] = d.RecordExternalSubscription.ID
			}()
		}
		close(start)
		wg.Wait()
		if codes[0] != "" || codes[1] != "" || codes[2] != "" || ids[0] != ids[1] || ids[1] != ids[2] {
			t.Fatalf("round %d, one key to three servers: ids %v, codes %v", round, ids, codes)
		}
	}
	recorded := map[string]int{}
	for _, e := range c.node.readAll(t) {
		if e.Type == domain.TypeExternalSubscriptionRecorded && strings.Contains(string(e.Data), `"idem-`) {
			recorded[e.Stream]++
		}
	}
	if len(recorded) != 20 {
		t.Fatalf("%d subscriptions recorded for 20 keys, want 20", len(recorded))
	}
}

// staleReads makes n mutations through writers and, at once after each, a
// query of its object on readers (in turn), with or without the answer's
// consistency token; it returns how many queries did not see the object.
func staleReads(t *testing.T, writers, readers []*testServer, cu uuid.UUID, n int, withToken bool) int {
	t.Helper()
	stale := 0
	for k := range n {
		w := writers[k%len(writers)].forTest(t).user(cu, domain.RoleGlobalAdmin)
		r := w.do(mRecordOffer, map[string]any{"in": map[string]any{
			"customerId": cu.String(), "offer": fmt.Sprintf("pair-%03d", k), "billingModel": "USAGE_BASED", "channel": "OPEN", "quantity": 1}})
		if r.code() != "" {
			t.Fatalf("mutation %d: %+v", k, r.Errors)
		}
		var d struct{ RecordExternalSubscription struct{ ID string } }
		json.Unmarshal(r.Data, &d)
		var headers []string
		if withToken {
			headers = []string{"X-Consistency-Token", consistencyToken(r)}
		}
		q := readers[k%len(readers)].forTest(t).user(cu, domain.RoleGlobalAdmin).do(
			`query($id: ID!) { subscription(id: $id) { id } }`, map[string]any{"id": d.RecordExternalSubscription.ID}, headers...)
		var got struct{ Subscription *struct{ ID string } }
		json.Unmarshal(q.Data, &got)
		if q.code() != "" || got.Subscription == nil {
			stale++
		}
	}
	return stale
}

// testConsistencyToken: a query on a lagging server reads stale without
// the token of the write it follows, and never with it; 100 pairs across
// the servers with the token: 0 stale.
func testConsistencyToken(t *testing.T, c *cluster) {
	_, _, cs := c.tenants(t, 1)
	laggy := startAPI(t, buildCmd(t, "laggyserver", "cmd/laggyserver"), c.node.url, []string{"SUBSCRIPTION_LAG=300ms"}).testServer()
	writers := []*testServer{c.servers[0]}
	readers := []*testServer{laggy}
	if n := staleReads(t, writers, readers, cs[0], 10, false); n == 0 {
		t.Fatal("the lagging server read no stale data without the token: the check below could not catch a server that ignores it")
	} else {
		t.Logf("without the token, %d of 10 queries on the lagging server read stale", n)
	}
	c.needsToken(t, cs[0])
	if n := staleReads(t, writers, readers, cs[0], 10, true); n != 0 {
		t.Fatalf("with the token, %d of 10 queries on the lagging server read stale", n)
	}
	// Each server writes, the next one reads.
	readers = []*testServer{c.servers[1], c.servers[2], laggy, c.servers[0]}
	writers = []*testServer{c.servers[0], c.servers[1], c.servers[2], c.servers[2]}
	if n := staleReads(t, writers, readers, cs[0], 100, true); n != 0 {
		t.Fatalf("with the token, %d of 100 queries read stale", n)
	}
}
