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
		fmt.Fprintln(stdout, "no -server: comparing the batch replay with a replay through the live path (projections.Run, SubscribeAll)")
		other := projections.New(nil)
		lres, err := audit.ReplayLive(ctx, st, other, res.Position)
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

// liveDigest is the server's readModelDigest.
type liveDigest struct {
	Position   string `json:"position"`
	Digest     string `json:"digest"`
	EventCount int    `json:"eventCount"`
}

// fetchDigest asks a running server for its read models' digest.
func fetchDigest(ctx context.Context, server, token string) (*liveDigest, error) {
	endpoint := strings.TrimRight(server, "/") + "/graphql"
	body, _ := json.Marshal(map[string]string{"query": "{ readModelDigest { position digest eventCount } }"})
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: -server: %w", ErrUsage, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+strings.TrimPrefix(token, "Bearer "))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ask %s for its read-model digest: %w", endpoint, err)
	}
	defer resp.Body.Close()
	var out struct {
		Data *struct {
			ReadModelDigest *liveDigest `json:"readModelDigest"`
		} `json:"data"`
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return nil, fmt.Errorf("%s answered HTTP %d, not GraphQL: %w", endpoint, resp.StatusCode, err)
	}
	if len(out.Errors) > 0 {
		return nil, fmt.Errorf("%s refused readModelDigest: %s (%v)", endpoint, out.Errors[0].Message, out.Errors[0].Extensions["code"])
	}
	if out.Data == nil || out.Data.ReadModelDigest == nil {
		return nil, fmt.Errorf("%s answered no readModelDigest (HTTP %d)", endpoint, resp.StatusCode)
	}
	return out.Data.ReadModelDigest, nil
}
