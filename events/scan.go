package events

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// maxDepth bounds the nesting of arrays and objects the scanner accepts, so
// that a hostile frame of brackets cannot exhaust the stack.
const maxDepth = 512

// SyntaxError reports JSON that is not well formed. Offset is the number of
// bytes of the document read before the error was found.
type SyntaxError struct {
	Offset int
	msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s at byte offset %d", e.msg, e.Offset)
}

func syntaxErr(i int, msg string) *SyntaxError { return &SyntaxError{Offset: i, msg: msg} }

// SkipSpace returns the index of the first byte of d at or after i that is
// not JSON white space.
func SkipSpace(d []byte, i int) int {
	for i < len(d) {
		switch d[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// SkipValue checks the JSON value that starts at d[i] (no leading white
// space) and returns the index just after it. It accepts exactly RFC 8259
// JSON; UTF-8 validity is the caller's to check.
func SkipValue(d []byte, i int) (int, error) {
	return skipValue(d, i, 0)
}

func skipValue(d []byte, i, depth int) (int, error) {
	if i >= len(d) {
		return i, syntaxErr(len(d), "unexpected end of JSON input")
	}
	switch c := d[i]; {
	case c == '"':
		end, _, err := ScanString(d, i)
		return end, err
	case c == '{':
		return skipObject(d, i, depth+1)
	case c == '[':
		return skipArray(d, i, depth+1)
	case c == 't':
		return skipLiteral(d, i, "true")
	case c == 'f':
		return skipLiteral(d, i, "false")
	case c == 'n':
		return skipLiteral(d, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return skipNumber(d, i)
	default:
		return i, syntaxErr(i+1, "invalid character looking for a value")
	}
}

func skipLiteral(d []byte, i int, lit string) (int, error) {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(d) {
			return i, syntaxErr(len(d), "unexpected end of JSON input")
		}
		if d[i+k] != lit[k] {
			return i, syntaxErr(i+k+1, "invalid character in literal")
		}
	}
	return i + len(lit), nil
}

// skipNumber scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func skipNumber(d []byte, i int) (int, error) {
	if d[i] == '-' {
		i++
	}
	digits := func(i int) (int, error) {
		if i >= len(d) {
			return i, syntaxErr(len(d), "unexpected end of JSON input")
		}
		if d[i] < '0' || d[i] > '9' {
			return i, syntaxErr(i+1, "invalid character in numeric literal")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		return i, nil
	}
	if i < len(d) && d[i] == '0' {
		i++
	} else {
		var err error
		if i, err = digits(i); err != nil {
			return i, err
		}
	}
	if i < len(d) && d[i] == '.' {
		var err error
		if i, err = digits(i + 1); err != nil {
			return i, err
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		return digits(i)
	}
	return i, nil
}

// ScanString checks the JSON string that starts at d[i] (a '"') and returns
// the index just after its closing quote and whether it holds escapes.
func ScanString(d []byte, i int) (end int, escaped bool, err error) {
	i++
	for i < len(d) {
		// Eight bytes at a time while none of them needs a look: no
		// quote, no backslash, no control character (most strings).
		for i+8 <= len(d) && plain8(binary.LittleEndian.Uint64(d[i:])) {
			i += 8
		}
		if i >= len(d) {
			break
		}
		c := d[i]
		switch {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(d) {
				return i, escaped, syntaxErr(len(d), "unexpected end of JSON input")
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d) {
					return i, escaped, syntaxErr(len(d), "unexpected end of JSON input")
				}
				for k := i + 2; k < i+6; k++ {
					if !isHex(d[k]) {
						return i, escaped, syntaxErr(k+1, "invalid character in \\u escape")
					}
				}
				i += 6
			default:
				return i, escaped, syntaxErr(i+2, "invalid character in string escape code")
			}
		case c < 0x20:
			return i, escaped, syntaxErr(i+1, "invalid character in string literal")
		default:
			i++
		}
	}
	return i, escaped, syntaxErr(len(d), "unexpected end of JSON input")
}

// Byte-parallel tests on eight bytes in a uint64 (the classic "has a zero
// byte" trick): every constant repeats one byte eight times.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plain8 reports whether none of the eight bytes in x is '"', '\\' or a
// control character (below 0x20). Bytes of 0x80 and above (UTF-8) are
// plain.
func plain8(x uint64) bool {
	quote := x ^ (ones * '"')
	slash := x ^ (ones * '\\')
	// b - 0x20 borrows into the high bit exactly when b < 0x20 for bytes
	// without their own high bit; ^x masks out bytes >= 0x80.
	low := (x - ones*0x20) &^ x
	zeroQuote := (quote - ones) &^ quote
	zeroSlash := (slash - ones) &^ slash
	return (low|zeroQuote|zeroSlash)&highs == 0
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func skipObject(d []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return i, syntaxErr(i+1, "exceeded max depth")
	}
	it := ObjectIter{d: d, i: i + 1, depth: depth}
	for {
		_, _, vstart, ok, err := it.Next()
		if err != nil {
			return it.i, err
		}
		if !ok {
			return it.i, nil
		}
		if it.i, err = skipValue(d, vstart, depth); err != nil {
			return it.i, err
		}
	}
}

func skipArray(d []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return i, syntaxErr(i+1, "exceeded max depth")
	}
	i = SkipSpace(d, i+1)
	if i < len(d) && d[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = skipValue(d, i, depth); err != nil {
			return i, err
		}
		i = SkipSpace(d, i)
		if i >= len(d) {
			return i, syntaxErr(len(d), "unexpected end of JSON input")
		}
		switch d[i] {
		case ',':
			i = SkipSpace(d, i+1)
		case ']':
			return i + 1, nil
		default:
			return i, syntaxErr(i+1, "invalid character after array element")
		}
	}
}

// ObjectIter walks the members of one JSON object. Create it with
// NewObjectIter at the object's '{'; each Next returns one member's key
// (raw, between its quotes) and where its value starts; the caller must then
// move past the value with SetEnd (after SkipValue or its own scan) before
// calling Next again.
type ObjectIter struct {
	d       []byte
	i       int
	depth   int
	started bool
}

// NewObjectIter returns an iterator over the object whose '{' is at d[i].
func NewObjectIter(d []byte, i int) ObjectIter {
	return ObjectIter{d: d, i: i + 1, depth: 1}
}

// SetEnd records that the current member's value ends at end.
func (it *ObjectIter) SetEnd(end int) { it.i = end }

// End is the index just after the object, once Next has returned ok=false.
func (it *ObjectIter) End() int { return it.i }

// Next returns the next member: its raw key (without the quotes), whether
// the key holds escapes, and the index where its value starts. ok is false
// after the closing '}'.
func (it *ObjectIter) Next() (key []byte, escaped bool, vstart int, ok bool, err error) {
	d := it.d
	i := SkipSpace(d, it.i)
	if i >= len(d) {
		return nil, false, i, false, syntaxErr(len(d), "unexpected end of JSON input")
	}
	if it.started {
		switch d[i] {
		case ',':
			i = SkipSpace(d, i+1)
		case '}':
			it.i = i + 1
			return nil, false, i, false, nil
		default:
			return nil, false, i, false, syntaxErr(i+1, "invalid character after object key:value pair")
		}
	} else {
		it.started = true
		if d[i] == '}' {
			it.i = i + 1
			return nil, false, i, false, nil
		}
	}
	if i >= len(d) {
		return nil, false, i, false, syntaxErr(len(d), "unexpected end of JSON input")
	}
	if d[i] != '"' {
		return nil, false, i, false, syntaxErr(i+1, "invalid character looking for beginning of object key string")
	}
	kend, esc, err := ScanString(d, i)
	if err != nil {
		return nil, false, i, false, err
	}
	key = d[i+1 : kend-1]
	i = SkipSpace(d, kend)
	if i >= len(d) {
		return nil, false, i, false, syntaxErr(len(d), "unexpected end of JSON input")
	}
	if d[i] != ':' {
		return nil, false, i, false, syntaxErr(i+1, "invalid character after object key")
	}
	i = SkipSpace(d, i+1)
	if i >= len(d) {
		return nil, false, i, false, syntaxErr(len(d), "unexpected end of JSON input")
	}
	it.i = i
	return key, esc, i, true, nil
}

// KeyIs reports whether the raw key (as returned by ObjectIter.Next) names
// name, decoding escapes when there are any.
func KeyIs(key []byte, escaped bool, name string) bool {
	if !escaped {
		return string(key) == name
	}
	s, ok := unquote(key)
	return ok && s == name
}

// unquote decodes the raw contents of a checked JSON string (between its
// quotes) that holds escapes.
func unquote(raw []byte) (string, bool) {
	q := make([]byte, 0, len(raw)+2)
	q = append(q, '"')
	q = append(q, raw...)
	q = append(q, '"')
	var s string
	if err := json.Unmarshal(q, &s); err != nil {
		return "", false
	}
	return s, true
}
