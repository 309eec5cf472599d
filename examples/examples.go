// Package examples holds example operations of the API, one story step per
// .graphql file, in the order a new user would run them (the playground
// shows them as tabs). Each file opens with a comment block: a title line,
// then "Role:" naming the demo user (of development mode) who runs it,
// an optional "Variables:" line of JSON, and what it shows. The package's
// test validates every file against the served schema and runs the story
// against a seeded development server.
package examples

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
)

//go:embed *.graphql
var files embed.FS

// Example is one file: its operations and what its leading comment says.
type Example struct {
	// Name is the file name, e.g. "02-support-plan.graphql".
	Name string
	// Title is the comment's first line.
	Title string
	// Role is the label of the demo user who runs it.
	Role string
	// Variables is the "Variables:" line, a JSON object, or nil. A value
	// in angle brackets says where to find an id the server made.
	Variables json.RawMessage
	// Description is the rest of the comment.
	Description string
	// Document is the whole file, comment included.
	Document string
}

// All returns every example in file-name order.
func All() ([]Example, error) {
	names, err := fs.Glob(files, "*.graphql")
	if err != nil {
		return nil, err
	}
	out := make([]Example, 0, len(names))
	for _, name := range names {
		b, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		e, err := parse(name, string(b))
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func parse(name, doc string) (Example, error) {
	e := Example{Name: name, Document: doc}
	var desc []string
	for i, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(line, "#") {
			break
		}
		text := strings.TrimSpace(strings.TrimPrefix(line, "#"))
		switch {
		case i == 0:
			e.Title = text
		case strings.HasPrefix(text, "Role:"):
			e.Role = strings.TrimSpace(strings.TrimPrefix(text, "Role:"))
		case strings.HasPrefix(text, "Variables:"):
			v := json.RawMessage(strings.TrimSpace(strings.TrimPrefix(text, "Variables:")))
			var m map[string]any
			if err := json.Unmarshal(v, &m); err != nil {
				return Example{}, fmt.Errorf("%s: Variables is not a JSON object: %w", name, err)
			}
			e.Variables = v
		default:
			desc = append(desc, text)
		}
	}
	if e.Title == "" || e.Role == "" {
		return Example{}, fmt.Errorf("%s: the leading comment needs a title line and a Role: line", name)
	}
	e.Description = strings.TrimSpace(strings.Join(desc, "\n"))
	return e, nil
}
