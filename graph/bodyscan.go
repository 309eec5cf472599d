package graph

import (
	"errors"
	"io"
	"unicode/utf8"
)

// errQueryTooLong is readBody's refusal: the body's query passed the
// document bound before the body was read whole.
var errQueryTooLong = errors.New("the document is over the limit")

// readBody reads a POST body, and stops reading with errQueryTooLong as
// soon as the decoded length of its top-level "query" string passes
// maxQuery (0: no bound). Decoding a JSON string costs about as much per
// byte as lexing it, so without this a 1 MiB document would be decoded
// whole before the document bounds refuse it on its first byte past the
// limit. The scan follows only the top level of the object: a body it
// does not understand (not an object, a key spelled with escapes) is read
// whole and left to the JSON decoder and the document bounds, which
// still apply after decoding.
func readBody(r io.Reader, maxQuery int) ([]byte, error) {
	buf := make([]byte, 0, 512)
	s := bodyScanner{max: maxQuery}
	if maxQuery <= 0 {
		s.state = scanDone
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		if s.state != scanDone && !s.scan(buf[len(buf):len(buf)+n]) {
			return nil, errQueryTooLong
		}
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
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
	scanDone                      // nothing more to learn
)

// bodyScanner is readBody's state machine over the bytes of a body.
type bodyScanner struct {
	state scanState
	max   int

	key   []byte // the key being read, up to len("query")+1 bytes
	query bool   // the value about to be read is the query's
	n     int    // decoded bytes of the query so far

	hex, hexDigits int // a \u escape's value and digits read

	// Skipping a value: depth of brackets, inside a string, after a
	// backslash in it.
	depth         int
	inString, esc bool
}

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
			case c == '"':
				s.query = string(s.key) == "query"
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
			// Bytes up to the next quote or backslash are the text as is.
			j := i
			for j < len(p) && p[j] != '"' && p[j] != '\\' {
				j++
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
				s.state = scanDone // the query is read: the rest is the decoder's
			} else {
				s.state = scanQueryEsc
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
