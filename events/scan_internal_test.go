package events

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// plainByte is plain8's definition for one byte.
func plainByte(c byte) bool { return c >= 0x20 && c != '"' && c != '\\' }

// TestPlain8 checks the byte-parallel test against the byte-wise one: every
// byte value in every position of otherwise plain words, and random words
// mixing the bytes the trick is most likely to confuse.
func TestPlain8(t *testing.T) {
	check := func(w [8]byte) {
		t.Helper()
		want := true
		for _, c := range w {
			want = want && plainByte(c)
		}
		if got := plain8(binary.LittleEndian.Uint64(w[:])); got != want {
			t.Fatalf("plain8(%q) = %v, want %v", w, got, want)
		}
	}
	for pos := range 8 {
		for c := range 256 {
			w := [8]byte{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}
			w[pos] = byte(c)
			check(w)
		}
	}
	tricky := []byte{0x00, 0x01, 0x1f, 0x20, 0x21, '"', 0x23, '\\', 0x5b, 0x5d, 0x7f, 0x80, 0x9f, 0xa0, 0xa2, 0xdc, 0xff}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		var w [8]byte
		for k := range w {
			if r.IntN(2) == 0 {
				w[k] = tricky[r.IntN(len(tricky))]
			} else {
				w[k] = byte(r.IntN(256))
			}
		}
		check(w)
	}
}

// TestScanStringLong checks strings long enough for the eight-byte steps,
// with the byte that ends or breaks them in every position.
func TestScanStringLong(t *testing.T) {
	for n := range 40 {
		body := make([]byte, n)
		for k := range body {
			body[k] = 'a' + byte(k%26)
		}
		d := append(append([]byte{'"'}, body...), '"', ',')
		end, esc, err := ScanString(d, 0)
		if err != nil || esc || end != n+2 {
			t.Fatalf("len %d: end %d escaped %v err %v, want %d false nil", n, end, esc, err, n+2)
		}
		for k := range n {
			ctl := append([]byte(nil), d...)
			ctl[1+k] = '\n'
			if _, _, err := ScanString(ctl, 0); err == nil {
				t.Fatalf("len %d: a control character at %d was accepted", n, k)
			}
			q := append([]byte(nil), d...)
			q[1+k] = '"'
			if end, _, err := ScanString(q, 0); err != nil || end != k+2 {
				t.Fatalf("len %d: a quote at %d: end %d err %v, want %d", n, k, end, err, k+2)
			}
			e := append([]byte(nil), d...)
			e[1+k] = '\\'
			if k+1 < n {
				e[2+k] = 'n'
			}
			if end, esc, err := ScanString(e, 0); k+1 < n && (err != nil || !esc || end != n+2) {
				t.Fatalf("len %d: an escape at %d: end %d escaped %v err %v", n, k, end, esc, err)
			}
		}
		if _, _, err := ScanString(d[:n+1], 0); err == nil {
			t.Fatalf("len %d: an unterminated string was accepted", n)
		}
	}
}
