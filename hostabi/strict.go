package hostabi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// A JSON document a plugin writes must mean one thing to the host, to
// Kubernetes and to any other reader. encoding/json alone does not
// ensure it: it matches field names case-insensitively, lets the last of
// two equal keys win, and keeps numbers in raw JSON that the apiserver
// then refuses. checkJSON reads the document token by token first.

// shape is what checkJSON allows of a JSON value: for an object, the
// keys it may have (exactly as spelled) and their shapes; for an array,
// the shape of its elements. A nil shape allows any value.
type shape struct {
	fields map[string]*shape
	elem   *shape
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// shapeOf derives the shape of the JSON encoding/json reads into t from
// t's fields and their json tags, so the Go types stay the one definition
// of the wire format (this package's types embed no structs). A type that decodes itself (json.Unmarshaler) may
// be any JSON value: its own decoding checks it.
func shapeOf(t reflect.Type) *shape {
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return shapeOf(t.Elem())
	case reflect.Slice, reflect.Array:
		if elem := shapeOf(t.Elem()); elem != nil {
			return &shape{elem: elem}
		}
	case reflect.Struct:
		s := &shape{fields: map[string]*shape{}}
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			s.fields[name] = shapeOf(f.Type)
		}
		return s
	}
	return nil
}

// errTrailing is checkJSON's error for data after the value.
var errTrailing = errors.New("more than one JSON value")

var responseShape = sync.OnceValue(func() *shape { return shapeOf(reflect.TypeFor[Response]()) })

// checkJSON reads the one JSON value in b and reports the first of: a
// syntax error, a key that appears twice in one object, a key shape s does
// not allow, a number that is not a finite 64-bit float (what the
// apiserver can store), arrays and objects nested deeper than MaxJSONDepth
// (counting from depth, the nesting of b in its document), or anything
// after the value.
func checkJSON(b []byte, s *shape, depth int) error {
	if quickCheck(b, s, depth) {
		return nil
	}
	return checkTokens(b, s, depth)
}

// checkTokens is checkJSON reading b token by token: what decides and
// words its errors.
func checkTokens(b []byte, s *shape, depth int) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := checkValue(dec, s, depth); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errTrailing
	}
	return nil
}

func checkValue(dec *json.Decoder, s *shape, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Number:
		if f, err := strconv.ParseFloat(string(t), 64); err != nil || math.IsInf(f, 0) {
			return fmt.Errorf("number %s does not fit a 64-bit float", head([]byte(t), 40))
		}
	case json.Delim:
		if depth++; depth > MaxJSONDepth {
			return fmt.Errorf("arrays and objects are nested more than %d deep", MaxJSONDepth)
		}
		if t == '[' {
			var elem *shape
			if s != nil {
				elem = s.elem
			}
			for dec.More() {
				if err := checkValue(dec, elem, depth); err != nil {
					return err
				}
			}
		} else {
			var seen map[string]bool
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key := k.(string)
				if seen[key] {
					return fmt.Errorf("key %q appears twice in one object", head([]byte(key), 40))
				}
				if seen == nil {
					seen = map[string]bool{}
				}
				seen[key] = true
				var sub *shape
				if s != nil && s.fields != nil {
					var ok bool
					if sub, ok = s.fields[key]; !ok {
						return fmt.Errorf("unknown field %q (field names are case-sensitive)", head([]byte(key), 40))
					}
				}
				if err := checkValue(dec, sub, depth); err != nil {
					return err
				}
			}
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return err
		}
	}
	return nil
}
