// Command esdbdouble serves the EventStoreDB protocol double
// (eventstore/esdb/esdbtest) as a process of its own, for tests that run
// the API as several processes on one "node". It is a test program, not part
// of the product: the product's binary never serves it.
//
//	esdbdouble -addr 127.0.0.1:0 -data /tmp/node/log -control 127.0.0.1:0
//
// Once serving it prints, one per line,
//
//	ESDB_URL=esdb://127.0.0.1:<port>?tls=false
//	CONTROL_URL=http://127.0.0.1:<port>   (with -control)
//
// and then READY. With -data the log is kept in that file: it survives the
// listener being closed and reopened and the process being restarted (even
// killed), with the same positions. The node can be taken away and brought
// back while the process runs, on the same port with the same data:
//
//   - on the control port: POST /stop closes the listener and every
//     connection, POST /start listens again; GET /status answers JSON;
//     POST /lose-acks?n=N and POST /drop-subscriptions?n=N,M inject the
//     double's faults;
//   - or with signals (Unix): SIGUSR1 stops, SIGUSR2 starts again.
//
// SIGINT and SIGTERM end the process.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/partnercenter/multichannel/eventstore/esdb/esdbtest"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "esdbdouble:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends or SIGINT/SIGTERM arrives.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("esdbdouble", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts esdbtest.Options
	fs.StringVar(&opts.Addr, "addr", "127.0.0.1:2113", "gRPC listen address (port 0: any free port, the same one again after a stop and start)")
	fs.StringVar(&opts.DataFile, "data", "", "append-only data file holding the log (empty: in memory, lost when the process ends)")
	fs.BoolVar(&opts.Fsync, "fsync", false, "sync the data file after every write (survives power loss, not only a killed process)")
	fs.BoolVar(&opts.NoServerFeatures, "no-server-features", false, "leave out ServerFeatures, as an older node: clients then append with Append, not BatchAppend")
	control := fs.String("control", "", "loopback address of an HTTP control port (empty: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}

	d, err := esdbtest.New(opts)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Listen(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "ESDB_URL="+d.URL())

	if *control != "" {
		lis, err := listenLoopback(*control)
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: controlHandler(d), ErrorLog: log.New(stderr, "esdbdouble control: ", 0)}
		go srv.Serve(lis)
		defer srv.Close()
		fmt.Fprintln(stdout, "CONTROL_URL=http://"+lis.Addr().String())
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	handleSignals(ctx, d, stderr)
	fmt.Fprintln(stdout, "READY")
	<-ctx.Done()
	return nil
}

// listenLoopback listens on addr, which must name a loopback host: the
// control port has no authentication.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("-control: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("-control %s: the control port listens on loopback only", addr)
	}
	return net.Listen("tcp", addr)
}

// status is what GET /status answers.
type status struct {
	Listening    bool   `json:"listening"`
	URL          string `json:"url"`
	Appends      int    `json:"appends"`
	BatchAppends int    `json:"batchAppends"`
	Subscribes   int    `json:"subscribes"`
	Records      int    `json:"records"`
}

func controlHandler(d *esdbtest.Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		appends, subs, records := d.Counts()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(status{
			Listening: d.Listening(), URL: d.URL(),
			Appends: appends, BatchAppends: d.BatchAppends(), Subscribes: subs, Records: records,
		})
	})
	mux.HandleFunc("POST /stop", func(w http.ResponseWriter, r *http.Request) {
		d.Stop() // returns once the listener and the connections are closed
		io.WriteString(w, "stopped\n")
	})
	mux.HandleFunc("POST /start", func(w http.ResponseWriter, r *http.Request) {
		if err := d.Listen(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "listening\n")
	})
	mux.HandleFunc("POST /lose-acks", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 0 {
			http.Error(w, "n: a count of appends", http.StatusBadRequest)
			return
		}
		d.LoseAcks(n)
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("POST /drop-subscriptions", func(w http.ResponseWriter, r *http.Request) {
		ns, err := counts(r.URL.Query().Get("n"))
		if err != nil {
			http.Error(w, "n: comma-separated event counts", http.StatusBadRequest)
			return
		}
		d.DropSubscriptions(ns...)
		io.WriteString(w, "ok\n")
	})
	return mux
}

func counts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return nil, errors.New("bad count")
		}
		out = append(out, n)
	}
	return out, nil
}
