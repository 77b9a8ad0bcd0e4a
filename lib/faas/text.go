package faas

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/harborstays/concierge/lib/fault"
)

// nulEscape is how JSON writes a NUL inside a string.
var nulEscape = []byte(`\u0000`)

// Text returns an Invalid fault naming the field when body holds text that
// PostgreSQL cannot store: a NUL (jsonb and text refuse U+0000) or bytes
// that are not UTF-8. Such a body decodes fine in Go, so without this check
// it reaches the database, is refused there, and the sender — told 500 —
// retries it forever.
//
// The common case costs two byte scans; the body is walked, to name the
// field, only when one of them finds something.
func Text(body []byte) error {
	hasNUL := bytes.IndexByte(body, 0) >= 0
	hasEscape := bytes.Contains(body, nulEscape)
	valid := utf8.Valid(body)
	if valid && !hasNUL && !hasEscape {
		return nil
	}
	if field, problem := locate(body); field != "" {
		return fault.Field(field, "%s", problem)
	}
	switch {
	case !valid:
		return fault.Field("body", "must be UTF-8")
	case hasNUL:
		return fault.Field("body", "must not contain NUL")
	}
	// A "\u0000" that the walk did not find inside a string is an escaped
	// backslash ("\\u0000"), which is plain text.
	return nil
}

// locate walks body token by token and returns the JSON path of the first
// string (key or value) holding a NUL or invalid UTF-8, with the problem;
// "" when the walk finds none or the body is not JSON.
func locate(body []byte) (field, problem string) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		object bool
		key    string // current key of an object
		index  int    // next index of an array
		want   bool   // object: the next string is a key
	}
	var stack []frame
	path := func(stack []frame) string {
		var b strings.Builder
		for _, f := range stack {
			if f.object {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			} else {
				b.WriteString("[" + strconv.Itoa(f.index-1) + "]")
			}
		}
		if b.Len() == 0 {
			return "body"
		}
		return b.String()
	}
	var prev int64
	for {
		tok, err := dec.Token()
		if err != nil {
			// io.EOF, or not JSON: the caller names the body.
			return "", ""
		}
		end := dec.InputOffset()
		raw := body[prev:end]
		prev = end
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if n := len(stack); n > 0 {
					top := &stack[n-1]
					if top.object {
						top.want = true
					} else {
						top.index++
					}
				}
				stack = append(stack, frame{object: d == '{', want: true})
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
			continue
		}
		isKey := false
		if n := len(stack); n > 0 {
			top := &stack[n-1]
			switch {
			case top.object && top.want:
				if s, ok := tok.(string); ok {
					top.key, top.want, isKey = s, false, true
				}
			case top.object:
				top.want = true
			default:
				top.index++
			}
		}
		s, ok := tok.(string)
		if !ok {
			continue
		}
		// The decoder turns invalid bytes into U+FFFD, so look at the raw
		// token for those; a NUL shows in the decoded string.
		bad := ""
		switch {
		case strings.IndexByte(s, 0) >= 0:
			bad = "must not contain NUL"
		case !utf8.Valid(raw):
			bad = "must be UTF-8"
		}
		if bad == "" {
			continue
		}
		if isKey {
			// Name the object; the key itself is what cannot be shown.
			return path(stack[:len(stack)-1]), "keys " + bad
		}
		return path(stack), bad
	}
}
