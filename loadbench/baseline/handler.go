// Package baseline is the load benchmark's ceiling: a gqlgen server with a
// one-field schema (type Query { ping: String! }) on the same HTTP stack as
// the API (handler.New and the POST transport), and nothing else: no
// authentication, no store, no read models, no limits, no query cache.
// Whatever the API does beyond this is what the benchmark's ratios price.
//
// The code next to this file is generated from gqlgen.yml; regenerate it
// from this directory with `go tool gqlgen generate`.
package baseline

import (
	"net/http"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
)

//go:generate go tool gqlgen generate

// NewHandler returns the baseline GraphQL handler, to be mounted at /graphql.
func NewHandler() http.Handler {
	srv := handler.New(NewExecutableSchema(Config{Resolvers: &Resolver{}}))
	srv.AddTransport(transport.POST{})
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
