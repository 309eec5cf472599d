package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/agnivade/levenshtein"

	"github.com/partnercenter/multichannel/internal/app"
)

// modeSummaries is the top-level usage: every word the binary knows, one
// line each, in the order a new user needs them.
var modeSummaries = []struct{ name, summary string }{
	{"serve", "serve the GraphQL API (the default: no mode word, only flags)"},
	{"verify", "recompute every hash chain and the log digest"},
	{"replay", "rebuild every read model from position zero and compare (-server: with a running server's)"},
	{"export", "write the log, or a slice of it, as NDJSON"},
	{"import", "load an NDJSON export into an empty store"},
	{"generate", "write a synthetic log of N events into an empty store (benchmarks)"},
	{"help", "this list; help MODE: what MODE does and its flags"},
}

func summary(mode string) string {
	for _, m := range modeSummaries {
		if m.name == mode {
			return m.summary
		}
	}
	return ""
}

// Usage prints the top-level usage: every mode with one line.
func Usage(w io.Writer) {
	fmt.Fprintln(w, "usage: multichannel [serve] [flags]   serve the API")
	fmt.Fprintln(w, "       multichannel MODE [flags]")
	fmt.Fprintln(w, "\nmodes:")
	for _, m := range modeSummaries {
		fmt.Fprintf(w, "  %-9s %s\n", m.name, m.summary)
	}
	fmt.Fprintln(w, "\nEvery mode reads the store the server is configured with (-events-db / EVENTS_DB, -eventstore-url / EVENTSTORE_URL).")
	fmt.Fprintln(w, "multichannel help MODE prints that mode's flags.")
}

// ErrUnknownMode is returned for a first word that is no mode; nothing
// was started.
var ErrUnknownMode = errors.New("unknown mode")

// Main reads the binary's command line. It runs a mode, prints help, or
// refuses a word that is no mode (with the nearest mode as a suggestion);
// it returns serve true, with the server's flags, when the command line
// asks for the server (no mode word, or "serve"), which main then starts.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) (serve bool, serverArgs []string, err error) {
	if len(args) == 0 {
		return true, nil, nil
	}
	switch word := args[0]; {
	case word == "-h" || word == "-help" || word == "--help":
		Usage(stdout)
		fmt.Fprintln(stdout)
		app.PrintServerFlags(stdout)
		return false, nil, nil
	case strings.HasPrefix(word, "-"):
		return true, args, nil
	case word == "serve":
		return true, args[1:], nil
	case word == "help":
		return false, nil, help(ctx, args[1:], stdout)
	case slices.Contains(Commands, word):
		return false, nil, Run(ctx, args, stdout, stderr)
	default:
		return false, nil, unknown(word)
	}
}

func help(ctx context.Context, args []string, stdout io.Writer) error {
	switch {
	case len(args) == 0:
		Usage(stdout)
		return nil
	case len(args) > 1:
		return fmt.Errorf("%w: help takes one mode, not %q", ErrUsage, args)
	case args[0] == "serve":
		app.PrintServerFlags(stdout)
		return nil
	case args[0] == "help":
		Usage(stdout)
		return nil
	case slices.Contains(Commands, args[0]):
		return Run(ctx, []string{args[0], "-h"}, stdout, stdout)
	default:
		return unknown(args[0])
	}
}

// unknown refuses a word that is no mode, suggesting the nearest one when
// it is a likely typo (at most two edits, or a prefix).
func unknown(word string) error {
	best, dist := "", 3
	for _, m := range modeSummaries {
		d := levenshtein.ComputeDistance(strings.ToLower(word), m.name)
		if strings.HasPrefix(m.name, strings.ToLower(word)) && len(word) >= 2 {
			d = min(d, 1)
		}
		if d < dist {
			best, dist = m.name, d
		}
	}
	if best != "" {
		return fmt.Errorf("%w %q; did you mean %s? (multichannel help lists the modes)", ErrUnknownMode, word, best)
	}
	return fmt.Errorf("%w %q (multichannel help lists the modes)", ErrUnknownMode, word)
}
