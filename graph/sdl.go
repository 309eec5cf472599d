package graph

import (
	"bytes"
	"sync"

	"github.com/vektah/gqlparser/v2/formatter"

	"github.com/partnercenter/multichannel/graph/generated"
)

//go:generate go test -run ^TestSchemaFile$ . -update

// SDL returns the served schema as one SDL document, with its descriptions
// and without GraphQL's built-in types and directives: what codegen tools
// read from the repository's schema.graphql and from GET /schema.graphql.
// It is made from the executable schema itself, so it is what introspection
// answers, not a copy of the source files.
func SDL() []byte { return bytes.Clone(sdl()) }

var sdl = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	formatter.NewFormatter(&b).FormatSchema(generated.NewExecutableSchema(generated.Config{}).Schema())
	return b.Bytes()
})
