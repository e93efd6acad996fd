//go:build !linux

package posix

import (
	"context"
	"os"
)

// cloneFile makes dst, an empty file, a copy of src, which has exactly size
// bytes. Outside Linux it copies through a buffer.
func cloneFile(ctx context.Context, dst, src *os.File, size int64) error {
	return copyRange(ctx, dst, 0, src, size)
}

// copyRange copies the first size bytes of src to dst at dstOff.
func copyRange(ctx context.Context, dst *os.File, dstOff int64, src *os.File, size int64) error {
	return copyPlain(ctx, dst, dstOff, src, 0, size)
}
