package hostabi

import (
	"bytes"
	"math"
	"strconv"
	"unicode/utf8"
)

// quickCheck is checkJSON's fast path: a scan of b that allocates nothing
// and answers true only for a value checkJSON accepts (valid JSON, one
// value, no key twice in an object, no key s does not allow, finite
// numbers, nesting within MaxJSONDepth counting from depth). It answers
// false for anything it refuses and for what it does not decide cheaply
// (a key with an escape or not valid UTF-8, an object with more than
// maxQuickKeys keys):
// checkJSON then reads b token by token, and its errors are the errors.
func quickCheck(b []byte, s *shape, depth int) bool {
	q := quickScanner{b: b}
	if !q.value(s, depth) {
		return false
	}
	q.space()
	return q.i == len(q.b)
}

// maxQuickKeys bounds the keys of one object quickCheck compares one by
// one; a larger object takes checkJSON's map.
const maxQuickKeys = 32

type quickScanner struct {
	b []byte
	i int
}

func (q *quickScanner) space() {
	for q.i < len(q.b) {
		switch q.b[q.i] {
		case ' ', '\t', '\n', '\r':
			q.i++
		default:
			return
		}
	}
}

func (q *quickScanner) value(s *shape, depth int) bool {
	q.space()
	if q.i >= len(q.b) {
		return false
	}
	switch c := q.b[q.i]; {
	case c == '{':
		if depth++; depth > MaxJSONDepth {
			return false
		}
		return q.object(s, depth)
	case c == '[':
		if depth++; depth > MaxJSONDepth {
			return false
		}
		var elem *shape
		if s != nil {
			elem = s.elem
		}
		q.i++
		q.space()
		if q.i < len(q.b) && q.b[q.i] == ']' {
			q.i++
			return true
		}
		for {
			if !q.value(elem, depth) {
				return false
			}
			if more, ok := q.separator(']'); !more {
				return ok
			}
		}
	case c == '"':
		_, ok := q.str()
		return ok
	case c == '-' || c >= '0' && c <= '9':
		return q.number()
	case c == 't':
		return q.literal("true")
	case c == 'f':
		return q.literal("false")
	case c == 'n':
		return q.literal("null")
	}
	return false
}

func (q *quickScanner) object(s *shape, depth int) bool {
	var keys [maxQuickKeys][]byte
	n := 0
	q.i++ // '{'
	q.space()
	if q.i < len(q.b) && q.b[q.i] == '}' {
		q.i++
		return true
	}
	for {
		q.space()
		if q.i >= len(q.b) || q.b[q.i] != '"' || n == maxQuickKeys {
			return false
		}
		key, ok := q.str()
		if !ok || bytes.IndexByte(key, '\\') >= 0 || !utf8.Valid(key) {
			// An escaped key is compared unescaped, and one that is not
			// UTF-8 as decoded (each bad byte a U+FFFD, so two such keys
			// can be one): checkJSON.
			return false
		}
		for _, k := range keys[:n] {
			if bytes.Equal(k, key) {
				return false
			}
		}
		keys[n] = key
		n++
		var sub *shape
		if s != nil && s.fields != nil {
			if sub, ok = s.fields[string(key)]; !ok {
				return false
			}
		}
		q.space()
		if q.i >= len(q.b) || q.b[q.i] != ':' {
			return false
		}
		q.i++
		if !q.value(sub, depth) {
			return false
		}
		if more, ok := q.separator('}'); !more {
			return ok
		}
	}
}

// str reads a string and returns its contents as written (escapes
// included). It refuses control characters and invalid escapes, as JSON
// does; other bytes, valid UTF-8 or not, pass as encoding/json lets them.
func (q *quickScanner) str() ([]byte, bool) {
	start := q.i + 1
	for q.i++; q.i < len(q.b); q.i++ {
		switch c := q.b[q.i]; {
		case c == '"':
			q.i++
			return q.b[start : q.i-1], true
		case c < 0x20:
			return nil, false
		case c == '\\':
			q.i++
			if q.i >= len(q.b) {
				return nil, false
			}
			switch q.b[q.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if q.i+4 >= len(q.b) {
					return nil, false
				}
				for _, h := range q.b[q.i+1 : q.i+5] {
					if !isHex(h) {
						return nil, false
					}
				}
				q.i += 4
			default:
				return nil, false
			}
		}
	}
	return nil, false
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// number reads a JSON number and checks that it is a finite 64-bit float.
func (q *quickScanner) number() bool {
	start := q.i
	if q.b[q.i] == '-' {
		q.i++
	}
	intStart := q.i
	if !q.digits() {
		return false
	}
	if q.b[intStart] == '0' && q.i-intStart > 1 {
		return false // a leading zero
	}
	intDigits := q.i - intStart
	exp := false
	if q.i < len(q.b) && q.b[q.i] == '.' {
		q.i++
		if !q.digits() {
			return false
		}
	}
	if q.i < len(q.b) && (q.b[q.i] == 'e' || q.b[q.i] == 'E') {
		exp = true
		q.i++
		if q.i < len(q.b) && (q.b[q.i] == '+' || q.b[q.i] == '-') {
			q.i++
		}
		if !q.digits() {
			return false
		}
	}
	// Without an exponent, fewer than 309 integer digits is below
	// math.MaxFloat64 (1.8e308); else ask strconv.
	if !exp && intDigits < 309 {
		return true
	}
	f, err := strconv.ParseFloat(string(q.b[start:q.i]), 64)
	return err == nil && !math.IsInf(f, 0)
}

// digits reads one or more decimal digits.
func (q *quickScanner) digits() bool {
	start := q.i
	for q.i < len(q.b) && q.b[q.i] >= '0' && q.b[q.i] <= '9' {
		q.i++
	}
	return q.i > start
}

func (q *quickScanner) literal(word string) bool {
	if !bytes.HasPrefix(q.b[q.i:], []byte(word)) {
		return false
	}
	q.i += len(word)
	return true
}

// separator reads what follows a member of an array or object: a comma
// (more), or its closer (done, ok); anything else is not ok.
func (q *quickScanner) separator(closer byte) (more, ok bool) {
	q.space()
	if q.i >= len(q.b) {
		return false, false
	}
	switch q.b[q.i] {
	case ',':
		q.i++
		return true, true
	case closer:
		q.i++
		return false, true
	}
	return false, false
}
