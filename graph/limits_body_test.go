package graph

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/99designs/gqlgen/graphql"
)

// readParams decodes a body as the decoder alone does, whatever the body:
// the query it takes from the scan is the one the decoder keeps, escapes,
// surrogates and bytes that are not UTF-8 decoded alike, and a body the
// decoder refuses is refused with the decoder's error.
func FuzzReadParams(f *testing.F) {
	for _, seed := range []string{
		`{"query":"{ __typename }"}`,
		`{"query":"query($n: Int) { a(n: $n) }","variables":{"n":9007199254740993},"operationName":"Q"}`,
		`{"variables":{"q":"x","query":"y"},"query":"{ a }","extensions":{"persistedQuery":{"version":1}}}`,
		`{"query":"{\n  a\t\"b\" \\ \/ \b\f\r }"}`,
		`{"query":"\u00e9\u2028\ud83d\ude00 \ud83d \ude00x \udc00\ud800"}`,
		"{\"query\":\"caf\xc3\xa9 \xff \xe2\x82\"}",
		`{"query":"a","Query":"b"}`,
		`{"QUERY":"a","query":"b"}`,
		`{"query":"a","query":""}`,
		`{"query":"a","qu\u0065ry":"b"}`,
		`{"query":"a\x01"}`,
		`{"query":"a\q"}`,
		`{"query":"a\u12"}`,
		`{"query":"a",}`,
		`{"query":"a"`,
		`{"query":"a"} trailing`,
		`{"query":"a","variables":"not an object"}`,
		`{"query":1}`,
		` { "query" : "a" , "variables" : { } } `,
		`[]`, ``, `{}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var got, want graphql.RawParams
		err := readParams(strings.NewReader(body), 1<<20, &got)
		if errors.Is(err, errQueryTooLong) {
			return
		}
		wantErr := decodeParams([]byte(body), &want)
		if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
			t.Fatalf("%q: error %v, the decoder's %v", body, err, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: %#v, the decoder's %#v", body, got, want)
		}
	})
}

// The usual bodies take the query from the scan; those whose query the
// scan cannot tell is the decoder's go through the decoder whole.
func TestReadParamsTakesTheQueryFromTheScan(t *testing.T) {
	for body, want := range map[string]bool{
		`{"query":"{ __typename }"}`: true,
		`{"operationName":"Q","query":"query Q {\n a\n}","variables":{"query":"x"}}`: true,
		`{"query":"a","extensions":{"persistedQuery":{"version":1}}}`:                true,
		`{"Query":"b","query":"a"}`:      true,
		`{"query":"a","Query":"b"}`:      false,
		`{"query":"a","query":"b"}`:      false,
		`{"query":"a","qu\u0065ry":"b"}`: false,
		`{"query":1}`:                    false,
	} {
		_, s, err := scanBody(strings.NewReader(body), 1<<20, nil)
		if err != nil || s.only() != want {
			t.Errorf("%s: only %v, %v; want %v", body, s.only(), err, want)
		}
	}
}

// A body read a byte at a time decodes, and is bounded, as one read whole:
// an escape split between two reads counts what it decodes to.
func TestReadParamsByteByByte(t *testing.T) {
	const limit = 20
	for _, body := range []string{
		`{"query":"` + strings.Repeat(`\t`, limit) + `"}`,
		`{"query":"` + strings.Repeat(`\t`, limit+1) + `"}`,
		`{"query":"` + strings.Repeat(`\u00e9`, limit/2) + `"}`,
		`{"query":"` + strings.Repeat(`\u00e9`, limit/2) + `x"}`,
		`{"query":"a\"b\\c\/d\u0041\ud83d\ude00","variables":{"a":[1,"\""]}}`,
	} {
		var whole, bytewise graphql.RawParams
		err1 := readParams(strings.NewReader(body), limit, &whole)
		err2 := readParams(iotest.OneByteReader(strings.NewReader(body)), limit, &bytewise)
		if (err1 == nil) != (err2 == nil) || !reflect.DeepEqual(whole, bytewise) {
			t.Errorf("%s: %v %#v whole, %v %#v byte by byte", body, err1, whole, err2, bytewise)
		}
		if over := strings.HasSuffix(body, `\t"}`) && strings.Count(body, `\t`) > limit || strings.HasSuffix(body, `x"}`); over != errors.Is(err1, errQueryTooLong) {
			t.Errorf("%s: %v, over the bound: %v", body, err1, over)
		}
	}
}
