// Package baseline is the load benchmark's ceiling: a gqlgen server with a
// one-field schema (type Query { ping: String! }) on the same HTTP stack as
// the API (handler.New and the POST transport), and nothing else: no
// authentication, no store, no read models, no limits, no extensions.
// Whatever the API does beyond this is what the benchmark's ratios price.
//
// The code next to this file is generated from gqlgen.yml; regenerate it
// from this directory with `go tool gqlgen generate`.
package baseline

import (
	"net/http"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
)

//go:generate go tool gqlgen generate

// NewHandler returns the baseline GraphQL handler, to be mounted at /graphql.
//
// It keeps parsed and validated documents in gqlgen's LRU query cache, as
// the API does (and gqlgen's own NewDefaultServer): without it every
// request parses and validates its document again, which costs about three
// times what the rest of a { ping } request costs (BenchmarkPing), and the
// "ceiling" would sit below the API's cached queries.
func NewHandler() http.Handler {
	return newHandler(true)
}

func newHandler(queryCache bool) http.Handler {
	srv := handler.New(NewExecutableSchema(Config{Resolvers: &Resolver{}}))
	srv.AddTransport(transport.POST{})
	if queryCache {
		srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	}
	return srv
}

// NewMux returns a mux that serves NewHandler at /graphql and answers
// /healthz, the paths the benchmark uses on the API as well.
func NewMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/graphql", NewHandler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	return mux
}
