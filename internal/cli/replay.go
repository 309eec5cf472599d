package cli

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/internal/app"
	"github.com/partnercenter/multichannel/internal/audit"
	"github.com/partnercenter/multichannel/projections"
)

// ErrReadModelsDiffer is returned by replay when the rebuilt read models
// are not the live ones.
var ErrReadModelsDiffer = errors.New("the rebuilt read models differ from the live ones")

// ErrDifferentLog is returned by replay -server when the server's log is
// not this one (their digests over the server's events differ), so
// comparing read models would say nothing.
var ErrDifferentLog = errors.New("the server's log is not this log")

func replayFlags(fs *flag.FlagSet) mode {
	server := fs.String("server", "", "a running server's base URL (http://host:8080): compare with its read models")
	token := fs.String("token", app.Env("AUDIT_TOKEN", ""), "an AUDITOR bearer token for -server (AUDIT_TOKEN)")
	upTo := fs.String("up-to-position", "", "rebuild up to this position only (without -server)")
	maxDiffs := fs.Int("max-diffs", 10, "how many differences to print")
	writeSnapshot := fs.String("write-snapshot", "", "write a snapshot of the rebuilt read models into this directory (the server's SNAPSHOT_DIR), and stop")
	return func(ctx context.Context, sf storeFlags, stdout, stderr io.Writer) error {
		stop, err := positionFlag("up-to-position", *upTo)
		if err != nil {
			return err
		}
		if *server != "" && stop != nil {
			return fmt.Errorf("%w: -up-to-position and -server exclude each other (the server's position is used)", ErrUsage)
		}
		var live *liveDigest
		if *server != "" {
			if *token == "" {
				return fmt.Errorf("%w: -server needs -token (an AUDITOR token)", ErrUsage)
			}
			if live, err = fetchDigest(ctx, *server, *token); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "server %s: read models at position %s over %d events, digest %s\n", *server, live.Position, live.EventCount, live.Digest)
			p, err := eventstore.ParsePosition(live.Position)
			if err != nil {
				return fmt.Errorf("the server answered position %q: %w", live.Position, err)
			}
			stop = &p
		}
		st, err := sf.open(ctx, true)
		if err != nil {
			return err
		}
		defer st.Close()
		if live != nil {
			// Read models of two different logs differ for a reason no
			// replay finds: check first that the server's log is this one.
			if err := sameLog(ctx, st, *server, *token, live.EventCount, stdout); err != nil {
				return err
			}
		}

		total := countEvents(ctx, sf)
		if live != nil {
			total = int64(live.EventCount)
		}
		m := projections.New(nil)
		p := newProgress(stdout, total, "replayed")
		res, err := audit.Replay(ctx, st, m, audit.ReplayOptions{UpTo: stop, Progress: p.set})
		p.finish(res.Events)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rebuilt every projection from %d events in %s: %.0f events/s (position %s)\n",
			res.Events, res.Elapsed.Round(time.Millisecond), res.Rate(), res.Position)
		if *writeSnapshot != "" {
			info, err := projections.SaveSnapshot(*writeSnapshot, m)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "wrote %s: %d events, position %s, %d bytes\n", info.Path, info.Events, info.Position, info.Bytes)
			return nil
		}
		batch := m.Snapshot()

		if live != nil {
			if batch.Digest() == live.Digest && batch.Events == live.EventCount {
				fmt.Fprintf(stdout, "EQUAL: the rebuilt read models match the server's at position %s (digest %s)\n", live.Position, live.Digest)
				return nil
			}
			fmt.Fprintf(stdout, "DIFFERENT: rebuilt %d events, digest %s; server %d events, digest %s\n",
				batch.Events, batch.Digest(), live.EventCount, live.Digest)
			fmt.Fprintln(stdout, "  (the server sends its digest only; run replay without -server on the same log to list differences between the live and batch paths)")
			return ErrReadModelsDiffer
		}

		// No server: fold the same log through the live path
		// (projections.Run, SubscribeAll) and compare it with the batch one.
		fmt.Fprintln(stdout, "no -server: comparing the batch replay with a replay through the live path (projections.Run: pages, then SubscribeAll)")
		other := projections.New(nil)
		lp := newProgress(stdout, res.Events, "replayed (live path)")
		lres, err := audit.ReplayLive(ctx, countingStore{Store: st, progress: lp.set, n: new(int64)}, other, res.Position)
		lp.finish(lp.done())
		if err != nil {
			return err
		}
		viaLive := other.Snapshot()
		if viaLive.Position != batch.Position {
			// The live path may have run past the batch's end while the
			// log grew: rebuild the batch model to the same point.
			m = projections.New(nil)
			pos := viaLive.Position
			if _, err := audit.Replay(ctx, st, m, audit.ReplayOptions{UpTo: &pos}); err != nil {
				return err
			}
			batch = m.Snapshot()
		}
		diffs := projections.DiffSnapshots(batch, viaLive, *maxDiffs)
		if len(diffs) == 0 {
			fmt.Fprintf(stdout, "EQUAL: batch and live replays agree at position %s (digest %s; live path took %s)\n",
				batch.Position, batch.Digest(), lres.Elapsed.Round(time.Millisecond))
			return nil
		}
		fmt.Fprintln(stdout, "DIFFERENT: first differences (batch vs live):")
		for _, d := range diffs {
			fmt.Fprintln(stdout, "  "+d)
		}
		return ErrReadModelsDiffer
	}
}

// countEvents is the total for the progress bar: the embedded file's row
// count (cheap), or -1 when it cannot be known without reading the log.
func countEvents(ctx context.Context, sf storeFlags) int64 {
	if *sf.url != "" {
		return -1
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: *sf.eventsDB}).EscapedPath()+"?mode=ro")
	if err != nil {
		return -1
	}
	defer db.Close()
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil {
		return -1
	}
	return n
}

// countingStore reports how many events the live path has read, by pages
// while it catches up and then by subscription, for the progress of its
// replay. The live path's one reader is its only user.
type countingStore struct {
	eventstore.Store
	progress func(int64)
	n        *int64
}

func (c countingStore) ReadAll(ctx context.Context, from eventstore.Position, max int) ([]eventstore.RecordedEvent, error) {
	evs, err := c.Store.ReadAll(ctx, from, max)
	if len(evs) > 0 {
		*c.n += int64(len(evs))
		c.progress(*c.n)
	}
	return evs, err
}

func (c countingStore) SubscribeAll(ctx context.Context, after eventstore.Position, fn func(eventstore.RecordedEvent) error) error {
	return c.Store.SubscribeAll(ctx, after, func(e eventstore.RecordedEvent) error {
		*c.n++
		c.progress(*c.n)
		return fn(e)
	})
}

// sameLog checks that the server's first n events are this log's: the
// server's log digest over them (verifyIntegrity(upToCount: n)) against
// the local one, and says so.
func sameLog(ctx context.Context, st eventstore.Store, server, token string, n int, stdout io.Writer) error {
	var theirs struct {
		VerifyIntegrity *struct {
			Digest     string `json:"digest"`
			EventCount int    `json:"eventCount"`
		} `json:"verifyIntegrity"`
	}
	err := ask(ctx, server, token, "query($n: Int) { verifyIntegrity(upToCount: $n) { digest eventCount } }", map[string]any{"n": n}, &theirs)
	if err != nil {
		return err
	}
	if theirs.VerifyIntegrity == nil {
		return fmt.Errorf("%s answered no verifyIntegrity", server)
	}
	ours, err := audit.Verify(ctx, st, audit.VerifyOptions{UpToCount: int64(n)})
	if err != nil {
		return fmt.Errorf("digest the local log: %w", err)
	}
	switch {
	case ours.EventCount < int64(n):
		fmt.Fprintf(stdout, "NOT THE SAME LOG: the server's read models cover %d events, this log holds %d\n", n, ours.EventCount)
		return ErrDifferentLog
	case ours.Digest.String() != theirs.VerifyIntegrity.Digest:
		fmt.Fprintf(stdout, "NOT THE SAME LOG: the server's first %d events digest as %s, this log's as %s\n", n, theirs.VerifyIntegrity.Digest, ours.Digest)
		return ErrDifferentLog
	}
	fmt.Fprintf(stdout, "same log: the server's first %d events and this log's have digest %s\n", n, ours.Digest)
	return nil
}

// liveDigest is the server's readModelDigest.
type liveDigest struct {
	Position   string `json:"position"`
	Digest     string `json:"digest"`
	EventCount int    `json:"eventCount"`
}

// fetchDigest asks a running server for its read models' digest.
func fetchDigest(ctx context.Context, server, token string) (*liveDigest, error) {
	var data struct {
		ReadModelDigest *liveDigest `json:"readModelDigest"`
	}
	if err := ask(ctx, server, token, "{ readModelDigest { position digest eventCount } }", nil, &data); err != nil {
		return nil, err
	}
	if data.ReadModelDigest == nil {
		return nil, fmt.Errorf("%s answered no readModelDigest", server)
	}
	return data.ReadModelDigest, nil
}

// ask sends one GraphQL query to a running server and decodes its data
// into out; a GraphQL error is returned with its code.
func ask(ctx context.Context, server, token, query string, vars map[string]any, out any) error {
	endpoint := strings.TrimRight(server, "/") + "/graphql"
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: -server: %w", ErrUsage, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+strings.TrimPrefix(token, "Bearer "))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("ask %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	var answer struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&answer); err != nil {
		return fmt.Errorf("%s answered HTTP %d, not GraphQL: %w", endpoint, resp.StatusCode, err)
	}
	if len(answer.Errors) > 0 {
		return fmt.Errorf("%s refused: %s (%v)", endpoint, answer.Errors[0].Message, answer.Errors[0].Extensions["code"])
	}
	if len(answer.Data) == 0 || string(answer.Data) == "null" {
		return fmt.Errorf("%s answered no data (HTTP %d)", endpoint, resp.StatusCode)
	}
	if err := json.Unmarshal(answer.Data, out); err != nil {
		return fmt.Errorf("%s answered unexpected data: %w", endpoint, err)
	}
	return nil
}
