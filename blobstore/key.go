package blobstore

import (
	"fmt"
	"strings"
)

// MaxKeyLen is the longest key accepted, in bytes (the S3 limit).
const MaxKeyLen = 1024

// ValidateKey reports whether key is a usable blob key (see [Store]). The
// error wraps ErrInvalidKey.
func ValidateKey(key string) error {
	if key == "" || len(key) > MaxKeyLen {
		return fmt.Errorf("%w: length %d", ErrInvalidKey, len(key))
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: %q has an empty, \".\" or \"..\" segment", ErrInvalidKey, key)
		}
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return fmt.Errorf("%w: %q has a control character or backslash", ErrInvalidKey, key)
		}
	}
	return nil
}

// ValidatePrefix is ValidateKey for List prefixes: the empty prefix and a
// trailing slash are allowed.
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return ValidateKey(strings.TrimSuffix(prefix, "/"))
}

// MaxMetadataSize bounds the user metadata of one blob: the sum of the
// lengths of all keys and values, in bytes (the S3 limit).
const MaxMetadataSize = 2048

// ValidateMetadata reports whether md is usable as PutOptions.Metadata. The
// error wraps ErrInvalidMetadata.
func ValidateMetadata(md map[string]string) error {
	total := 0
	for k, v := range md {
		total += len(k) + len(v)
		if k == "" {
			return fmt.Errorf("%w: empty key", ErrInvalidMetadata)
		}
		for i := 0; i < len(k); i++ {
			if c := k[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("%w: key %q: only a-z, 0-9 and '-' are allowed", ErrInvalidMetadata, k)
			}
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; c < 0x20 || c > 0x7e {
				return fmt.Errorf("%w: value of %q: only printable ASCII is allowed", ErrInvalidMetadata, k)
			}
		}
		if strings.TrimSpace(v) != v {
			return fmt.Errorf("%w: value of %q has leading or trailing spaces", ErrInvalidMetadata, k)
		}
	}
	if total > MaxMetadataSize {
		return fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidMetadata, total, MaxMetadataSize)
	}
	return nil
}
