// Package cli holds the command-line modes of the server binary: replay,
// verify, export, import and generate. Each opens the event store the way
// the server is configured (-events-db / EVENTS_DB, or -eventstore-url /
// EVENTSTORE_URL). The modes that only read (replay, verify, export) open
// the embedded file read-only, so they run beside a server that writes it;
// import and generate open it for writing and fail with a clear error while
// a server holds it.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/partnercenter/multichannel/eventstore"
	"github.com/partnercenter/multichannel/internal/app"
)

// Commands lists the subcommands Run knows: main hands os.Args[1:] to Run
// when os.Args[1] is one of them.
var Commands = []string{"replay", "verify", "export", "import", "generate"}

// Stdin is what `import -in -` reads (a variable so tests can set it).
var Stdin io.Reader = os.Stdin

// ErrUsage is returned for a bad command line (the usage was printed).
var ErrUsage = errors.New("bad command line")

// Run runs the subcommand args[0] with the flags that follow. Errors are
// returned, not printed; a mode that finds a problem in the log (a broken
// chain, a read model that differs) returns an error wrapping it, so the
// process exits non-zero.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || !slices.Contains(Commands, args[0]) {
		fmt.Fprintf(stderr, "usage: multichannel {%s} [flags]\n", strings.Join(Commands, "|"))
		return ErrUsage
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: multichannel %s [flags]\n\n%s\n\nflags:\n", args[0], summary(args[0]))
		fs.PrintDefaults()
	}
	sf := storeFlags{}
	sf.register(fs)
	var run func(context.Context, storeFlags, io.Writer, io.Writer) error
	switch args[0] {
	case "replay":
		run = replayFlags(fs)
	case "verify":
		run = verifyFlags(fs)
	case "export":
		run = exportFlags(fs)
	case "import":
		run = importFlags(fs)
	case "generate":
		run = generateFlags(fs)
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%s: %w: %w", args[0], ErrUsage, err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments %q\n", args[0], fs.Args())
		return ErrUsage
	}
	if err := run(ctx, sf, stdout, stderr); err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	return nil
}

// storeFlags mirror the server's store configuration.
type storeFlags struct {
	eventsDB, url *string
}

func (s *storeFlags) register(fs *flag.FlagSet) {
	s.eventsDB = fs.String("events-db", app.Env("EVENTS_DB", "./data/events.db"), "embedded event store file (EVENTS_DB)")
	s.url = fs.String("eventstore-url", app.Env("EVENTSTORE_URL", ""), "EventStoreDB esdb:// connection string; overrides -events-db (EVENTSTORE_URL)")
}

func (s storeFlags) describe() string {
	if *s.url != "" {
		return "EventStoreDB"
	}
	return *s.eventsDB
}

// open opens the store as the server does (app.OpenStore): read-only for
// readers of the embedded file (no writer's lock, so a running server is
// not disturbed).
func (s storeFlags) open(ctx context.Context, readOnly bool) (eventstore.Store, error) {
	return app.OpenStore(ctx, app.StoreConfig{EventsDB: *s.eventsDB, URL: *s.url}, readOnly)
}
