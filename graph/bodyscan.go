package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
)

// errQueryTooLong is scanBody's refusal: the body's query passed the
// document bound before the body was read whole.
var errQueryTooLong = errors.New("the document is over the limit")

// readParams reads a POST body as scanBody does and decodes it into p, as
// a json.Decoder with UseNumber (gqlgen's transports) would. The query's
// text is taken from the body as the scan found it rather than through
// the decoder: encoding/json scans a string byte by byte twice, once to
// find the value's end and once to decode it, which for a document of the
// bound's 16 KiB costs ten times what answering `{ __typename }` does.
// The rest of the body, the query's value cut out, goes through the
// decoder as before; so does the whole body when the scan cannot tell
// that its query is the one the decoder would keep (see bodyScanner.only).
func readParams(r io.Reader, maxQuery int, p *graphql.RawParams) error {
	buf := bodyBuffers.Get().(*[]byte)
	body, s, err := scanBody(r, maxQuery, (*buf)[:0])
	defer func() {
		// Nothing decoded refers to the body: the decoder copies what
		// it keeps, and so does unquoteJSON.
		if cap(body) <= maxPooledBody {
			*buf = body[:0]
			bodyBuffers.Put(buf)
		}
	}()
	if err != nil {
		return err
	}
	if s.only() {
		if query, ok := unquoteJSON(body[s.start:s.end]); ok {
			// The rest of the body: what is not the query, usually small.
			rest := make([]byte, 0, len(body)-(s.end-s.start))
			rest = append(append(rest, body[:s.start]...), body[s.end:]...)
			var q graphql.RawParams
			if decodeParams(rest, &q) == nil && q.Query == "" {
				q.Query = query
				*p = q
				return nil
			}
			// A body the decoder refuses: its own error, from the whole.
		}
	}
	return decodeParams(body, p)
}

// bodyBuffers keeps the buffers bodies are read into, up to
// maxPooledBody bytes each: reading a body of 16 KiB into a new buffer
// grows it seven times.
var bodyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxPooledBody = 256 << 10

func decodeParams(body []byte, p *graphql.RawParams) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	// Numbers stay json.Number, as gqlgen's own transports keep them, so
	// that an Int variable beyond 2^53 is not rounded.
	dec.UseNumber()
	return dec.Decode(p)
}

// scanBody reads a POST body, and stops reading with errQueryTooLong as
// soon as the decoded length of its top-level "query" string passes
// maxQuery (0: no bound). Decoding a JSON string costs about as much per
// byte as lexing it, so without this a 1 MiB document would be decoded
// whole before the document bounds refuse it on its first byte past the
// limit. The scan follows only the top level of the object: a body it
// does not understand (not an object, a key spelled with escapes) is read
// whole and left to the JSON decoder and the document bounds, which
// still apply after decoding.
func scanBody(r io.Reader, maxQuery int, buf []byte) ([]byte, *bodyScanner, error) {
	s := &bodyScanner{max: maxQuery, start: -1, end: -1}
	if maxQuery <= 0 {
		s.state = scanDone
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		if s.state != scanDone && !s.scan(buf[len(buf):len(buf)+n]) {
			return buf, s, errQueryTooLong
		}
		buf = buf[:len(buf)+n]
		s.off = len(buf)
		if err == io.EOF {
			return buf, s, nil
		}
		if err != nil {
			return buf, s, err
		}
	}
}

// unquoteJSON decodes the text of a JSON string (without its quotes) as
// encoding/json does: the escapes, a surrogate pair as one rune, a lone
// surrogate and a byte that is not UTF-8 as U+FFFD. ok is false for what
// the decoder would refuse (a control character, an unknown escape).
func unquoteJSON(raw []byte) (string, bool) {
	i := 0
	for i < len(raw) {
		c := raw[i]
		if c == '\\' || c < ' ' || c >= utf8.RuneSelf {
			break
		}
		i++
	}
	if i == len(raw) {
		return string(raw), true // the usual case: ASCII, no escapes
	}
	b := make([]byte, 0, len(raw))
	b = append(b, raw[:i]...)
	for i < len(raw) {
		c := raw[i]
		switch {
		case c == '\\':
			if i+1 >= len(raw) {
				return "", false
			}
			switch raw[i+1] {
			case '"', '\\', '/':
				b = append(b, raw[i+1])
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r := hex4(raw[i+2:])
				if r < 0 {
					return "", false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if len(raw) >= i+6 && raw[i] == '\\' && raw[i+1] == 'u' {
						if dec := utf16.DecodeRune(r, hex4(raw[i+2:])); dec != utf8.RuneError {
							b = utf8.AppendRune(b, dec)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				b = utf8.AppendRune(b, r)
				continue
			default:
				return "", false
			}
			i += 2
		case c < ' ':
			return "", false
		case c < utf8.RuneSelf:
			j := i + 1 // the run of plain ASCII, written at once
			for j < len(raw) && raw[j] != '\\' && raw[j] >= ' ' && raw[j] < utf8.RuneSelf {
				j++
			}
			b = append(b, raw[i:j]...)
			i = j
		default:
			r, size := utf8.DecodeRune(raw[i:])
			b = utf8.AppendRune(b, r) // U+FFFD for a byte that is not UTF-8
			i += size
		}
	}
	return string(b), true
}

// hex4 is the value of the four hex digits p starts with, -1 if it does
// not.
func hex4(p []byte) rune {
	if len(p) < 4 {
		return -1
	}
	var r rune
	for _, c := range p[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

type scanState uint8

const (
	scanObject   scanState = iota // before the opening brace
	scanKey                       // before a key (or the closing brace)
	scanKeyText                   // inside a key
	scanColon                     // after a key
	scanValue                     // before a value
	scanSkip                      // inside a value other than the query
	scanQuery                     // inside the query string
	scanQueryEsc                  // after a backslash in the query
	scanQueryHex                  // inside a \uXXXX escape of the query
	scanKeyAfter                  // after the query, before a ',' or '}'
	scanDone                      // nothing more to learn
)

// bodyScanner is scanBody's state machine over the bytes of a body.
type bodyScanner struct {
	state scanState
	max   int

	key   []byte // the key being read, up to len("query")+1 bytes
	query bool   // the value about to be read is the query's
	n     int    // decoded bytes of the query so far

	// off is where in the body the bytes scan is given start; start and
	// end are where the query's text is, between its quotes (start -1:
	// not found). again: a key after the query's may be decoded as
	// "query" too (encoding/json matches keys without regard to case, and
	// the last one wins), or the scan stopped before the body's end.
	off, start, end int
	again           bool

	hex, hexDigits int // a \u escape's value and digits read

	// Skipping a value: depth of brackets, inside a string, after a
	// backslash in it.
	depth         int
	inString, esc bool
}

// only reports whether the scan found the query's text, and that it is
// the one the decoder keeps.
func (s *bodyScanner) only() bool { return s.start >= 0 && s.end >= s.start && !s.again }

// scan takes the next bytes and reports false once the query is over max.
func (s *bodyScanner) scan(p []byte) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch s.state {
		case scanObject:
			switch {
			case isSpace(c):
			case c == '{':
				s.state = scanKey
			default:
				s.state = scanDone
			}
		case scanKey:
			switch {
			case isSpace(c), c == ',':
			case c == '"':
				s.state, s.key = scanKeyText, s.key[:0]
			default:
				s.state = scanDone // '}' or not JSON: the decoder says
			}
		case scanKeyText:
			switch {
			case c == '\\':
				s.state = scanDone // an escaped key: left to the decoder
				s.again = true
			case c == '"':
				s.query = string(s.key) == "query"
				if s.start >= 0 && !s.query && strings.EqualFold(string(s.key), "query") {
					s.again = true
				}
				s.state = scanColon
			case len(s.key) <= len("query"):
				s.key = append(s.key, c)
			}
		case scanColon:
			switch {
			case isSpace(c):
			case c == ':':
				s.state = scanValue
			default:
				s.state = scanDone
			}
		case scanValue:
			switch {
			case isSpace(c):
			case s.query && c == '"':
				s.state, s.n = scanQuery, 0
				if s.start >= 0 {
					s.again = true // a second "query"
				}
				s.start = s.off + i + 1
			default:
				s.state, s.depth, s.inString, s.esc = scanSkip, 0, false, false
				i-- // the value's first byte is the skipper's
			}
		case scanSkip:
			switch {
			case s.esc:
				s.esc = false
			case s.inString:
				switch c {
				case '\\':
					s.esc = true
				case '"':
					s.inString = false
				}
			case c == '"':
				s.inString = true
			case c == '{' || c == '[':
				s.depth++
			case (c == '}' || c == ']') && s.depth > 0:
				s.depth--
			case s.depth == 0 && c == ',':
				s.state = scanKey
			case s.depth == 0 && c == '}':
				s.state = scanDone
			}
		case scanQuery:
			// Bytes up to the next quote or \u escape are the text as is,
			// or an escape of one byte, skipped here rather than through
			// scanQueryEsc: a query can be all escapes.
			j := i
		run:
			for j < len(p) {
				switch c := p[j]; {
				case c == '"':
					break run
				case c != '\\':
					j++
				case j+1 < len(p) && p[j+1] != 'u':
					j += 2
					s.n-- // two bytes of the body, one of the query
				default:
					break run
				}
			}
			s.n += j - i
			if s.n > s.max {
				return false
			}
			i = j
			if j == len(p) {
				break
			}
			if p[j] == '"' {
				// The query is read; the rest is the decoder's, but for
				// its keys (only).
				s.end = s.off + j
				s.state = scanKeyAfter
			} else {
				s.state = scanQueryEsc
			}
		case scanKeyAfter:
			switch {
			case isSpace(c):
			case c == ',':
				s.state = scanKey
			default:
				s.state = scanDone // '}' or not JSON: the decoder says
			}
		case scanQueryEsc:
			if c == 'u' {
				s.state, s.hex, s.hexDigits = scanQueryHex, 0, 0
				break
			}
			s.n++
			s.state = scanQuery
		case scanQueryHex:
			s.hex = s.hex<<4 | hexValue(c)
			if s.hexDigits++; s.hexDigits < 4 {
				break
			}
			switch {
			case s.hex >= 0xD800 && s.hex < 0xE000:
				s.n += 2 // each half of a surrogate pair: 4 bytes for the two
			default:
				s.n += max(utf8.RuneLen(rune(s.hex)), 1)
			}
			s.state = scanQuery
		}
		if s.n > s.max {
			return false
		}
		if s.state == scanDone {
			return true
		}
	}
	return true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func hexValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return 0
}
