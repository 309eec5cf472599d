package httpapi_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partnercenter/multichannel/internal/httpapi"
)

// serve runs h behind httpapi.Server and httpapi.Listener on loopback.
func serve(t *testing.T, h http.Handler, l httpapi.ServerLimits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.Server(h, l)
	go srv.Serve(httpapi.Listener(ln, l))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer reads until the server closes c (a safety deadline only
// keeps a broken server from hanging the test) and returns what came.
func closedByServer(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	b, err := io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server kept the connection open; read %q", b)
	}
	return string(b)
}

func TestSlowBodyIsEndedByTheReadTimeout(t *testing.T) {
	var readErrors atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			readErrors.Add(1)
			http.Error(w, "slow body", http.StatusBadRequest)
		}
	})
	addr := serve(t, h, httpapi.ServerLimits{ReadTimeout: 300 * time.Millisecond})
	c := dial(t, addr)
	// A body of 100,000 bytes declared, one sent, the rest never.
	io.WriteString(c, "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
	closedByServer(t, c)
	if readErrors.Load() != 1 {
		t.Fatalf("handler saw %d body read errors, want 1", readErrors.Load())
	}
}

func TestSlowHeadersAreEnded(t *testing.T) {
	addr := serve(t, http.NotFoundHandler(), httpapi.ServerLimits{ReadHeaderTimeout: 200 * time.Millisecond})
	c := dial(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n")
	closedByServer(t, c)
}

func TestIdleKeepAliveConnectionIsClosed(t *testing.T) {
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		httpapi.ServerLimits{IdleTimeout: 200 * time.Millisecond})
	c := dial(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 || resp.Close {
		t.Fatalf("first request: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	// Kept alive, then idle: the server closes it.
	closedByServer(t, c)
}

func TestOpenConnectionsAreCapped(t *testing.T) {
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		httpapi.ServerLimits{MaxConns: 2})
	held := []net.Conn{dial(t, addr), dial(t, addr)}
	for _, c := range held {
		// Each answered once, so each is surely accepted and counted.
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != 200 {
			t.Fatalf("held connection: %v %v", resp, err)
		}
	}
	third := dial(t, addr)
	got := closedByServer(t, third)
	if !strings.HasPrefix(got, "HTTP/1.1 503") || !strings.Contains(got, "Retry-After: 1") {
		t.Fatalf("third connection got %q, want a 503", got)
	}
	// A closed connection gives its place back.
	held[0].Close()
	for i := 0; ; i++ {
		c := dial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil && resp.StatusCode == 200 {
			break
		}
		if i > 100 {
			t.Fatalf("the place was not given back: %v %v", resp, err)
		}
		time.Sleep(20 * time.Millisecond) // the server sees the close asynchronously
	}
}
