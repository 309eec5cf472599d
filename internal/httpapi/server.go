package httpapi

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ServerLimits bound what one HTTP connection may cost. Zero values mean
// the defaults below.
type ServerLimits struct {
	// ReadHeaderTimeout bounds the reading of a request's headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds the reading of a whole request, its body included:
	// a body that trickles in ends there. A WebSocket is exempt once
	// upgraded (net/http clears the deadlines of a hijacked connection).
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from the end of its headers to the end
	// of its response; longer than REQUEST_TIMEOUT, so that a request
	// past its deadline is still answered. /audit/export is exempt.
	WriteTimeout time.Duration
	// IdleTimeout is how long a keep-alive connection may wait for its
	// next request.
	IdleTimeout time.Duration
	// MaxConns bounds the open connections, WebSockets included; one more
	// is answered 503 and closed.
	MaxConns int
}

// Defaults of ServerLimits.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxConns          = 10_000
)

// WithDefaults fills the zero fields with the defaults.
func (l ServerLimits) WithDefaults() ServerLimits {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&l.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&l.ReadTimeout, DefaultReadTimeout)
	def(&l.WriteTimeout, DefaultWriteTimeout)
	def(&l.IdleTimeout, DefaultIdleTimeout)
	if l.MaxConns <= 0 {
		l.MaxConns = DefaultMaxConns
	}
	return l
}

// Server returns the HTTP server of h with the limits' timeouts.
func Server(h http.Handler, l ServerLimits) *http.Server {
	l = l.WithDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
}

// Listener bounds ln to the limits' open connections. Past the bound a
// connection is answered 503 with Retry-After and closed at once, which a
// client can tell from a slow server; golang.org/x/net/netutil's
// LimitListener would leave it waiting unanswered in the accept backlog.
func Listener(ln net.Listener, l ServerLimits) net.Listener {
	return &limitListener{Listener: ln, max: int64(l.WithDefaults().MaxConns)}
}

type limitListener struct {
	net.Listener
	max  int64
	open atomic.Int64
}

// overloaded is the whole answer to a connection past the bound.
var overloaded = []byte(fmt.Sprintf("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"+
	"Retry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(overloadedBody), overloadedBody))

const overloadedBody = "too many open connections\n"

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			go func() {
				// The client's request is not read: the answer is the same
				// for any.
				c.SetWriteDeadline(time.Now().Add(time.Second))
				c.Write(overloaded)
				c.Close()
			}()
			continue
		}
		return &countedConn{Conn: c, l: l}, nil
	}
}

// countedConn gives its place back once, when closed.
type countedConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// noWriteDeadline lifts the server's write timeout for a response that
// streams as long as it must (the export of the log).
func noWriteDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).SetWriteDeadline(time.Time{})
		next.ServeHTTP(w, r)
	})
}
