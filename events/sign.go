package events

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"time"
)

// The Sobot docking page signs the talk details it hands over with one of
// two formulas (shared/reference/README.md):
//
//   - plain: sign = md5(sysNum + email), the agent's email;
//   - with the security key on: sign = MD5(sysNum + key + timestamp +
//     uphone + uemail), an empty uphone or uemail left out.
//
// Both are lower- or upper-case hex; timestamp is in milliseconds. The plain
// formula proves nothing against anyone who knows the contact centre's
// sysNum (it is the same for every call of an agent); only the keyed one,
// with a fresh timestamp, shows that the workbench sent these details.

// Values of Event.Signature.
const (
	// SignatureVerified: the sign matched and the timestamp was fresh.
	SignatureVerified = "verified"
	// SignatureUnverified: the sign did not match, or the timestamp was
	// missing or outside the window.
	SignatureUnverified = "unverified"
	// SignatureAbsent: the talk details carried no sign.
	SignatureAbsent = "absent"
)

// SignVerdict is what SignKey.Check found.
type SignVerdict uint8

// The verdicts of SignKey.Check.
const (
	// SignAbsent: params.sign is missing, null or empty.
	SignAbsent SignVerdict = iota
	// SignVerified: the sign matches and the timestamp is fresh.
	SignVerified
	// SignStale: the timestamp is missing or outside the window.
	SignStale
	// SignInvalid: the sign does not match.
	SignInvalid
)

// Signature returns the Event.Signature value of v.
func (v SignVerdict) Signature() string {
	switch v {
	case SignVerified:
		return SignatureVerified
	case SignAbsent:
		return SignatureAbsent
	}
	return SignatureUnverified
}

// SignKey is what checking a sign needs: the contact centre's sysNum and,
// with the security key on, the key. Window bounds how far the talk
// details' timestamp may be from now, either way; 0 or less checks no
// freshness.
type SignKey struct {
	SysNum string
	Key    string
	Window time.Duration
}

// Keyed reports whether k uses the security-key formula.
func (k SignKey) Keyed() bool { return k.Key != "" }

// PlainSign returns md5(sysNum + email) in lower-case hex.
func PlainSign(sysNum, email string) string {
	sum := md5.Sum([]byte(sysNum + email))
	return hex.EncodeToString(sum[:])
}

// KeyedSign returns MD5(sysNum + key + timestamp + uphone + uemail) in
// lower-case hex; empty values add nothing, which leaves them out.
func KeyedSign(sysNum, key, timestamp, uphone, uemail string) string {
	sum := md5.Sum([]byte(sysNum + key + timestamp + uphone + uemail))
	return hex.EncodeToString(sum[:])
}

// Check verifies the sign of an iframeParams message m at time now. The
// timestamp is checked first (a stale message needs no digest), then the
// sign, compared in constant time and without regard to case. Values are
// taken as received, before any redaction. Check allocates nothing for
// values without JSON escapes.
func (k SignKey) Check(m *Message, now time.Time) SignVerdict {
	var sb [64]byte
	sign := appendText(sb[:0], m.raw(fSign))
	if len(sign) == 0 {
		return SignAbsent
	}
	tsRaw := m.raw(fTimestamp)
	if len(tsRaw) == 0 || tsRaw[0] == 'n' {
		return SignStale
	}
	if k.Window > 0 {
		d := now.Sub(time.UnixMilli(millisOf(tsRaw)))
		if d > k.Window || d < -k.Window {
			return SignStale
		}
	}
	var got [md5.Size]byte
	if len(sign) != 2*md5.Size {
		return SignInvalid
	}
	if _, err := hex.Decode(got[:], sign); err != nil {
		return SignInvalid
	}
	var scratch [512]byte
	b := append(scratch[:0], k.SysNum...)
	if k.Keyed() {
		b = append(b, k.Key...)
		b = appendText(b, tsRaw)
		b = appendText(b, m.raw(fUphone))
		b = appendText(b, m.raw(fUemail))
	} else {
		b = appendText(b, m.raw(fEmail))
	}
	want := md5.Sum(b)
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return SignInvalid
	}
	return SignVerified
}
