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
	if len(id) != 36 {
		return fmt.Errorf("%w: %q", ErrInvalidID, id)
	}
	for i := 0; i < 36; i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return fmt.Errorf("%w: %q", ErrInvalidID, id)
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return fmt.Errorf("%w: %q", ErrInvalidID, id)
			}
		}
	}
	return nil
}
