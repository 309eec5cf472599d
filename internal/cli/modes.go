package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/internal/audit"
)

type mode = func(context.Context, storeFlags, io.Writer, io.Writer) error

func verifyFlags(fs *flag.FlagSet) mode {
	upTo := fs.Int64("up-to", 0, "verify and digest the first N events only (0: the whole log)")
	expected := fs.String("expected", "", `a digest kept earlier ("<count>:<hex>"): check that the log still starts with those events`)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	return func(ctx context.Context, sf storeFlags, stdout, stderr io.Writer) error {
		opts := audit.VerifyOptions{UpToCount: *upTo}
		if *expected != "" {
			d, err := audit.ParseDigest(*expected)
			if err != nil {
				return fmt.Errorf("%w: -expected: %w", ErrUsage, err)
			}
			opts.Expected = &d
		}
		st, err := sf.open(ctx, true)
		if err != nil {
			return err
		}
		defer st.Close()
		start := time.Now()
		rep, err := audit.Verify(ctx, st, opts)
		if err != nil {
			return err
		}
		elapsed := time.Since(start)
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(reportJSON(rep)); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(stdout, "verified %d events in %d streams in %s (%.0f events/s)\n",
				rep.EventCount, rep.StreamCount, elapsed.Round(time.Millisecond), float64(rep.EventCount)/elapsed.Seconds())
			fmt.Fprintf(stdout, "intact streams: %d, broken: %d\n", rep.IntactCount, rep.BrokenCount)
			for _, b := range rep.Broken {
				fmt.Fprintf(stdout, "  BROKEN %s at revision %d (%s; %d events)\n", b.Stream, *b.FirstBrokenRevision, b.Reason, b.EventCount)
			}
			fmt.Fprintf(stdout, "digest: %s\nposition: %s\n", rep.Digest, rep.Position)
			if rep.ExtendsExpected != nil {
				fmt.Fprintf(stdout, "extends %s: %t\n", opts.Expected, *rep.ExtendsExpected)
			}
		}
		switch {
		case !rep.Intact():
			return fmt.Errorf("%w: %d broken streams", audit.ErrIntegrity, rep.BrokenCount)
		case rep.ExtendsExpected != nil && !*rep.ExtendsExpected:
			return fmt.Errorf("%w: the log does not start with the events digested as %s", audit.ErrIntegrity, opts.Expected)
		}
		return nil
	}
}

func reportJSON(rep *audit.Report) any {
	type broken struct {
		Stream              string `json:"stream"`
		EventCount          int64  `json:"eventCount"`
		FirstBrokenRevision uint64 `json:"firstBrokenRevision"`
		Reason              string `json:"reason"`
	}
	out := struct {
		EventCount      int64    `json:"eventCount"`
		StreamCount     int      `json:"streamCount"`
		IntactCount     int      `json:"intactCount"`
		BrokenCount     int      `json:"brokenCount"`
		Broken          []broken `json:"broken"`
		Digest          string   `json:"digest"`
		Position        string   `json:"position"`
		ExtendsExpected *bool    `json:"extendsExpected,omitempty"`
	}{rep.EventCount, rep.StreamCount, rep.IntactCount, rep.BrokenCount, []broken{}, rep.Digest.String(), rep.Position.String(), rep.ExtendsExpected}
	for _, b := range rep.Broken {
		out.Broken = append(out.Broken, broken{b.Stream, b.EventCount, *b.FirstBrokenRevision, b.Reason})
	}
	return out
}

func exportFlags(fs *flag.FlagSet) mode {
	var (
		stream  = fs.String("stream", "", "export one stream")
		types   = fs.String("type", "", "comma-separated event types to keep")
		from    = fs.String("from", "", "recordedAt at or after this RFC 3339 time")
		to      = fs.String("to", "", "recordedAt before this RFC 3339 time")
		fromPos = fs.String("from-position", "", "events at or after this position")
		after   = fs.String("after-position", "", "events after this position (incremental exports)")
		toPos   = fs.String("to-position", "", "events at or before this position")
		out     = fs.String("o", "-", "output file (- for standard output)")
	)
	return func(ctx context.Context, sf storeFlags, stdout, stderr io.Writer) error {
		q := map[string][]string{}
		for k, v := range map[string]string{"stream": *stream, "type": *types, "from": *from, "to": *to,
			"fromPosition": *fromPos, "afterPosition": *after, "toPosition": *toPos} {
			if v != "" {
				q[k] = []string{v}
			}
		}
		f, err := audit.ParseFilter(q)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrUsage, err)
		}
		st, err := sf.open(ctx, true)
		if err != nil {
			return err
		}
		defer st.Close()
		w := stdout
		if *out != "-" {
			file, err := os.Create(*out)
			if err != nil {
				return err
			}
			defer file.Close()
			w = file
		}
		if err := audit.Export(ctx, st, f, w); err != nil {
			return err
		}
		if file, ok := w.(*os.File); ok && *out != "-" {
			if err := file.Sync(); err != nil {
				return err
			}
			return file.Close()
		}
		return nil
	}
}

func importFlags(fs *flag.FlagSet) mode {
	in := fs.String("in", "-", "NDJSON export to import (- for standard input)")
	batch := fs.Int("batch-events", audit.DefaultBatchEvents, "embedded store: events per batch, one transaction and one fsync each (EventStoreDB appends one stream at a time)")
	return func(ctx context.Context, sf storeFlags, stdout, stderr io.Writer) error {
		if *batch <= 0 {
			return fmt.Errorf("%w: -batch-events must be positive", ErrUsage)
		}
		var r io.Reader = Stdin
		size := int64(-1)
		if *in != "-" {
			f, err := os.Open(*in)
			if err != nil {
				return err
			}
			defer f.Close()
			r = f
			if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
				size = fi.Size()
			}
		}
		st, err := sf.open(ctx, false)
		if err != nil {
			return err
		}
		start := time.Now()
		// Progress in bytes of the export read (the file's size is known
		// before its events are), on stderr: stdout says what was done.
		p := newProgressIn(stderr, size, "importing", "bytes")
		cr := &countingReader{r: r, progress: p.set}
		n, err := audit.Import(ctx, bufio.NewReaderSize(cr, 1<<20), st, audit.ImportOptions{BatchEvents: *batch})
		p.finish(cr.n)
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("after %d events: %w", n, err)
		}
		d := time.Since(start)
		fmt.Fprintf(stdout, "imported %d events into %s in %s (%.0f events/s)\n", n, sf.describe(), d.Round(time.Millisecond), float64(n)/d.Seconds())
		return nil
	}
}

func generateFlags(fs *flag.FlagSet) mode {
	n := fs.Int64("events", 100_000, "how many events to write")
	seed := fs.Uint64("seed", 1, "seed of the scenario mix")
	workers := fs.Int("workers", 0, "concurrent scenarios (0: automatic)")
	batch := fs.Int("batch-events", audit.DefaultBatchEvents, "embedded store: events per batch, one transaction and one fsync each")
	return func(ctx context.Context, sf storeFlags, stdout, stderr io.Writer) error {
		if *n <= 0 {
			return fmt.Errorf("%w: -events must be positive", ErrUsage)
		}
		if *batch <= 0 {
			return fmt.Errorf("%w: -batch-events must be positive", ErrUsage)
		}
		st, err := sf.open(ctx, false)
		if err != nil {
			return err
		}
		start := time.Now()
		p := newProgress(stderr, *n, "generated")
		written, err := audit.Generate(ctx, st, *n, audit.GenerateOptions{Seed: *seed, Workers: *workers, BatchEvents: *batch, Progress: p.set})
		p.finish(written)
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if errors.Is(err, audit.ErrNotEmpty) {
			return fmt.Errorf("%s already holds events; generate writes a fresh log: %w", sf.describe(), err)
		}
		if err != nil {
			return err
		}
		d := time.Since(start)
		fmt.Fprintf(stdout, "generated %d events into %s in %s (%.0f events/s)\n", written, sf.describe(), d.Round(time.Millisecond), float64(written)/d.Seconds())
		return nil
	}
}

// positionFlag parses an optional position flag.
func positionFlag(name, v string) (*eventstore.Position, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	p, err := eventstore.ParsePosition(v)
	if err != nil {
		return nil, fmt.Errorf("%w: -%s: %w", ErrUsage, name, err)
	}
	return &p, nil
}

// countingReader reports how many bytes have been read through it.
type countingReader struct {
	r        io.Reader
	n        int64
	progress func(int64)
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	c.progress(c.n)
	return n, err
}
