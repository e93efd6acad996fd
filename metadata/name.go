package metadata

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxNameLen is the longest name in bytes, the POSIX NAME_MAX of the volume.
const MaxNameLen = 255

// ValidateName reports whether name can name a node. The error wraps
// ErrInvalidName and quotes the name.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidName, len(name), MaxNameLen)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("%w: %q contains '/' or NUL", ErrInvalidName, name)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: %q is not valid UTF-8", ErrInvalidName, name)
	}
	return nil
}

// ValidateID reports whether id is a canonical UUID string: 36 bytes,
// lower-case hex, hyphens at 8, 13, 18 and 23. Node and space ids must be,
// because they become file names and S3 keys.
func ValidateID(id string) error {
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		return fmt.Errorf("%w: %q", ErrInvalidID, id)
	}
	for i := 0; i < 36; i++ {
		if !idByte[id[i]] && i != 8 && i != 13 && i != 18 && i != 23 {
			return fmt.Errorf("%w: %q", ErrInvalidID, id)
		}
	}
	return nil
}

// idByte marks the bytes allowed in an id besides its hyphens: lower-case
// hex digits. (A table: ids are checked on every request.)
var idByte = func() (t [256]bool) {
	for _, c := range "0123456789abcdef" {
		t[c] = true
	}
	return t
}()
