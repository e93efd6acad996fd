package decomposedfs

import (
	"crypto/md5"
	"crypto/sha1"
	"hash"
	"hash/adler32"
	"testing"
)

// BenchmarkHasher measures the checksums every upload computes (SHA-1, MD5,
// Adler-32 in one pass), each alone and all together: on large uploads they
// are the gateway's main CPU cost.
func BenchmarkHasher(b *testing.B) {
	p := make([]byte, 32<<10)
	for _, c := range []struct {
		n string
		h func() hash.Hash
	}{{"sha1", sha1.New}, {"md5", func() hash.Hash { return md5.New() }}, {"adler", func() hash.Hash { return adler32.New() }}} {
		b.Run(c.n, func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			h := c.h()
			for b.Loop() {
				h.Write(p)
			}
		})
	}
	b.Run("all", func(b *testing.B) {
		b.SetBytes(int64(len(p)))
		h := newHasher()
		for b.Loop() {
			h.Write(p)
		}
	})
}
