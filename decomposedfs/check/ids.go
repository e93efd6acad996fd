package check

// Ids go through the external sorts as 16 bytes instead of 36 characters.
// The order is the same: ids are lower-case hex with hyphens at fixed
// places, so byte order of the decoded form is string order of the ids,
// and string order of blob keys "<space>/<xx>/<blob>" is (space, blob)
// order.

type id16 [16]byte

var zeroID id16

// pack decodes a validated id. Hex digits only; the caller validated.
func pack(s string) id16 {
	var b id16
	j := 0
	for i := 0; i < len(s) && j < 32; i++ {
		c := s[i]
		if c == '-' {
			continue
		}
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		}
		if j%2 == 0 {
			b[j/2] = v << 4
		} else {
			b[j/2] |= v
		}
		j++
	}
	return b
}

const hexDigits = "0123456789abcdef"

func (b id16) String() string {
	if b == zeroID {
		return ""
	}
	var s [36]byte
	j := 0
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j], s[j+1] = hexDigits[c>>4], hexDigits[c&15]
		j += 2
	}
	return string(s[:])
}
