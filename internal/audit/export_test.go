package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/partnercenter/multichannel/domain"
	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/eventstore/sqlite"
	"github.com/partnercenter/multichannel/internal/audit"
	"github.com/partnercenter/multichannel/internal/auth"
	"github.com/partnercenter/multichannel/projections"
)

func readAll(t *testing.T, st eventstore.Store) []eventstore.RecordedEvent {
	t.Helper()
	var out []eventstore.RecordedEvent
	for pos := eventstore.Start; ; {
		evs, err := st.ReadAll(context.Background(), pos, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return out
		}
		out = append(out, evs...)
		pos = evs[len(evs)-1].Position
	}
}

// TestExportImportRoundTrip exports a generated log, imports it into a
// fresh store, and expects the same events byte for byte, a clean
// verification with the same digest, and equal read models.
func TestExportImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := openRO(t, newLog(t, 1200))
	var buf bytes.Buffer
	if err := audit.Export(ctx, src, audit.Filter{}, &buf); err != nil {
		t.Fatal(err)
	}
	if lines := bytes.Count(buf.Bytes(), []byte("\n")); lines != 1200 {
		t.Fatalf("%d lines", lines)
	}

	dst, err := sqlite.Open(filepath.Join(t.TempDir(), "imported.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	n, err := audit.Import(ctx, bytes.NewReader(buf.Bytes()), dst, audit.ImportOptions{})
	if err != nil || n != 1200 {
		t.Fatalf("import: %d, %v", n, err)
	}

	a, b := readAll(t, src), readAll(t, dst)
	if len(a) != len(b) {
		t.Fatalf("%d vs %d events", len(a), len(b))
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.ID != y.ID || x.Stream != y.Stream || x.Revision != y.Revision || x.Type != y.Type ||
			!bytes.Equal(x.Data, y.Data) || !bytes.Equal(x.Metadata, y.Metadata) {
			t.Fatalf("event %d differs:\n%+v\n%+v", i, x, y)
		}
	}

	ra, rb := verify(t, src, audit.VerifyOptions{}), verify(t, dst, audit.VerifyOptions{})
	if !rb.Intact() || ra.Digest != rb.Digest || ra.StreamCount != rb.StreamCount {
		t.Fatalf("source %+v\nimported %+v", ra, rb)
	}

	ma, mb := projections.New(nil), projections.New(nil)
	if _, err := audit.Replay(ctx, src, ma, audit.ReplayOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Replay(ctx, dst, mb, audit.ReplayOptions{}); err != nil {
		t.Fatal(err)
	}
	if d := projections.DiffSnapshots(ma.Snapshot(), mb.Snapshot(), 5); len(d) > 0 {
		t.Fatalf("read models differ: %v", d)
	}
	if _, da := ma.Digest(); da != func() string { _, d := mb.Digest(); return d }() {
		t.Fatal("equal snapshots, different digests")
	}

	// A second import into the now non-empty store is refused.
	if _, err := audit.Import(ctx, bytes.NewReader(buf.Bytes()), dst, audit.ImportOptions{}); !errors.Is(err, audit.ErrNotEmpty) {
		t.Fatalf("import into a non-empty store: %v", err)
	}
}

func TestImportRefusesPartialExports(t *testing.T) {
	ctx := context.Background()
	src := openRO(t, newLog(t, 1500))
	var buf bytes.Buffer
	if err := audit.Export(ctx, src, audit.Filter{}, &buf); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimSuffix(buf.String(), "\n"), "\n")
	recs := decodeLines(t, strings.NewReader(buf.String()))
	// without drops the line of stream's event at rev, found after a later
	// revision of the same stream exists: a slice that is not whole.
	without := func(rev uint64) string {
		t.Helper()
		for i, r := range recs {
			if r.Revision != rev+1 {
				continue
			}
			for j := range recs[:i] {
				if recs[j].Stream == r.Stream && recs[j].Revision == rev {
					return strings.Join(append(append([]string{}, lines[:j]...), lines[j+1:]...), "")
				}
			}
		}
		t.Fatalf("no stream with revision %d", rev+1)
		return ""
	}
	for name, input := range map[string]string{
		"a stream's first event missing": without(0),
		"gap":                            without(1),
		"failed export":                  strings.Join(lines[:10], "") + `{"error":"boom"}` + "\n",
		"not json":                       strings.Join(lines[:10], "") + "hello\n",
		"reordered lines":                lines[1] + lines[0],
	} {
		t.Run(name, func(t *testing.T) {
			dst, err := sqlite.Open(filepath.Join(t.TempDir(), "x.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			if _, err := audit.Import(ctx, strings.NewReader(input), dst, audit.ImportOptions{}); !errors.Is(err, audit.ErrBadExport) {
				t.Fatalf("want ErrBadExport, got %v", err)
			}
		})
	}
}

// TestExportKeepsBytes: payloads that encoding/json would re-encode (HTML
// characters, pretty-printed JSON, invalid JSON) come back byte for byte.
func TestExportKeepsBytes(t *testing.T) {
	ctx := context.Background()
	src, err := sqlite.Open(filepath.Join(t.TempDir(), "src.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	payloads := [][]byte{
		[]byte(`{"name":"A & B <c>"}`),
		[]byte("{\n  \"pretty\": true\n}"),
		[]byte(" {\"padded\":1} "),
		[]byte(`not json`),
	}
	for i, p := range payloads {
		if _, err := src.Append(ctx, "other-"+string(rune('a'+i)), eventstore.NoStream(),
			eventstore.EventData{ID: mustV7(t), Type: "Note", Data: p, Metadata: p}); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := audit.Export(ctx, src, audit.Filter{}, &buf); err != nil {
		t.Fatal(err)
	}
	dst, err := sqlite.Open(filepath.Join(t.TempDir(), "dst.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := audit.Import(ctx, &buf, dst, audit.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, e := range readAll(t, dst) {
		if !bytes.Equal(e.Data, payloads[i]) || !bytes.Equal(e.Metadata, payloads[i]) {
			t.Fatalf("payload %d: %q / %q, want %q", i, e.Data, e.Metadata, payloads[i])
		}
	}
}

func TestExportFilters(t *testing.T) {
	ctx := context.Background()
	src := openRO(t, newLog(t, 600))
	all := readAll(t, src)
	export := func(f audit.Filter) []audit.Record {
		t.Helper()
		var buf bytes.Buffer
		if err := audit.Export(ctx, src, f, &buf); err != nil {
			t.Fatal(err)
		}
		return decodeLines(t, &buf)
	}
	stream := all[len(all)/2].Stream
	got := export(audit.Filter{Stream: stream})
	if len(got) == 0 {
		t.Fatal("no events of the stream")
	}
	for i, r := range got {
		if r.Stream != stream || r.Revision != uint64(i) {
			t.Fatalf("stream filter: %+v", r)
		}
	}
	got = export(audit.Filter{Types: []string{domain.TypePartnerEnrolled, domain.TypeRelationshipAccepted}})
	for _, r := range got {
		if r.Type != domain.TypePartnerEnrolled && r.Type != domain.TypeRelationshipAccepted {
			t.Fatalf("type filter: %s", r.Type)
		}
	}
	from, to := all[100].Position, all[199].Position
	got = export(audit.Filter{FromPosition: &from, ToPosition: &to})
	if len(got) != 100 || got[0].Position != from.String() || got[99].Position != to.String() {
		t.Fatalf("position range: %d events", len(got))
	}
	got = export(audit.Filter{AfterPosition: &from, ToPosition: &to})
	if len(got) != 99 {
		t.Fatalf("after position: %d events", len(got))
	}
	// Time range: from inclusive, to exclusive, on recordedAt.
	md, err := domain.DecodeMetadata(all[300].Metadata)
	if err != nil {
		t.Fatal(err)
	}
	at := md.RecordedAt
	for _, r := range export(audit.Filter{From: &at}) {
		m, _ := domain.DecodeMetadata(r.Metadata)
		if m.RecordedAt.Before(at) {
			t.Fatalf("from: %s before %s", m.RecordedAt, at)
		}
	}
	for _, r := range export(audit.Filter{To: &at}) {
		m, _ := domain.DecodeMetadata(r.Metadata)
		if !m.RecordedAt.Before(at) {
			t.Fatalf("to: %s not before %s", m.RecordedAt, at)
		}
	}
}

func decodeLines(t *testing.T, r io.Reader) []audit.Record {
	t.Helper()
	var out []audit.Record
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec audit.Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, rec)
	}
	return out
}

func TestExportHandler(t *testing.T) {
	src := openRO(t, newLog(t, 400))
	// The fake authorize: the token names the role.
	authorize := func(r *http.Request) error {
		switch r.Header.Get("Authorization") {
		case "":
			return auth.ErrNoToken
		case "Bearer bad":
			return &auth.TokenError{Reason: "bad signature"}
		case "Bearer auditor":
			return nil
		}
		return domain.Errorf(domain.CodeForbidden, "auditors only")
	}
	srv := httptest.NewServer(audit.ExportHandler(src, authorize))
	defer srv.Close()
	get := func(query, token string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/audit/export"+query, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	for _, c := range []struct {
		token, query string
		status       int
	}{
		{"", "", http.StatusUnauthorized},
		{"bad", "", http.StatusUnauthorized},
		{"partner", "", http.StatusForbidden},
		{"auditor", "?fromPosition=zz", http.StatusBadRequest},
		{"auditor", "?from=yesterday", http.StatusBadRequest},
		{"auditor", "?strem=x", http.StatusBadRequest},
	} {
		if resp := get(c.query, c.token); resp.StatusCode != c.status {
			t.Errorf("token %q query %q: status %d, want %d", c.token, c.query, resp.StatusCode, c.status)
		}
	}
	resp := get("", "auditor")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	recs := decodeLines(t, resp.Body)
	if len(recs) != 400 {
		t.Fatalf("%d records", len(recs))
	}
	resp = get("?type=PartnerEnrolled,CustomerOnboarded&to="+time.Now().Add(24*365*10*time.Hour).UTC().Format(time.RFC3339), "auditor")
	for _, r := range decodeLines(t, resp.Body) {
		if r.Type != domain.TypePartnerEnrolled && r.Type != domain.TypeCustomerOnboarded {
			t.Fatalf("type filter over HTTP: %s", r.Type)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/audit/export", nil)
	req.Header.Set("Authorization", "Bearer auditor")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}
