package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/s3dfs/s3dfs/blobstore"
)

// Put implements blobstore.Store.
//
// A body of at most PartSize bytes (known size, or unknown size that turns
// out small) is read into memory first and sent in one PUT; minio-go can
// retry that request because the buffer is seekable, and a wrong size is
// caught before anything is sent. A larger body streams through minio-go's
// multipart upload, Concurrency parts at a time, each part buffered and
// retried on its own; a wrong size, a failing reader or a cancelled ctx
// makes minio-go abort the upload, so no object appears.
//
// The returned ModTime is the local clock at completion: PUT responses do
// not carry Last-Modified. Stat gives the server's time.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts blobstore.PutOptions) (blobstore.Info, error) {
	if err := s.validateKey(key); err != nil {
		return blobstore.Info{}, err
	}
	if err := blobstore.ValidateMetadata(opts.Metadata); err != nil {
		return blobstore.Info{}, err
	}
	if size < -1 {
		return blobstore.Info{}, fmt.Errorf("s3: put %s: size %d is neither a length nor -1", key, size)
	}
	if size > MaxObjectSize {
		return blobstore.Info{}, fmt.Errorf("s3: put %s: %w: %d bytes, S3 stores at most %d", key, blobstore.ErrTooLarge, size, int64(MaxObjectSize))
	}
	b := &body{r: r, want: size}
	// The completion of a multipart upload makes the server copy what
	// was read.
	ctx, c := s.begin(ctx, b.sent.Load)
	defer c.end()
	b.ctx = ctx
	popts := minio.PutObjectOptions{
		UserMetadata:          userMetadata(opts.Metadata),
		ContentType:           contentType,
		PartSize:              uint64(partSizeFor(size, s.opts.PartSize)),
		NumThreads:            uint(s.opts.Concurrency),
		ConcurrentStreamParts: s.opts.Concurrency > 1,
	}

	var (
		src    io.Reader = b
		length           = size
	)
	if size <= s.opts.PartSize { // includes -1
		buf, err := b.readUpTo(s.opts.PartSize)
		if err != nil {
			return blobstore.Info{}, fmt.Errorf("s3: put %s: %w", key, err)
		}
		if b.eof {
			src, length = bytes.NewReader(buf), int64(len(buf))
		} else {
			// Unknown size, more than one part: stream on from where the
			// buffer ends.
			src = io.MultiReader(bytes.NewReader(buf), b)
		}
	}

	ui, err := s.client.PutObject(ctx, s.bucket, s.object(key), src, length, popts)
	if st := c.stalled(); st != nil && (err != nil || b.err != nil) {
		return blobstore.Info{}, s.classify("put", key, st)
	}
	if b.err != nil {
		// The body's own error (size mismatch, reader failure, ctx) says
		// more than how minio-go reported the aborted upload.
		return blobstore.Info{}, fmt.Errorf("s3: put %s: %w", key, b.err)
	}
	if err != nil {
		return blobstore.Info{}, s.classify("put", key, err)
	}
	if !b.eof || ui.Size != b.n {
		// minio-go stopped reading early or miscounted; neither should
		// happen, but a wrong object must not stay.
		derr := s.Delete(context.WithoutCancel(ctx), key)
		return blobstore.Info{}, fmt.Errorf("s3: put %s: sent %d bytes, read %d: %w", key, ui.Size, b.n,
			errors.Join(blobstore.ErrSizeMismatch, derr))
	}
	return blobstore.Info{Key: key, Size: b.n, ModTime: time.Now()}, nil
}

// partSizeFor is the part size for a body of size bytes: the configured
// one, or for a body too large to fit in blobstore.MaxParts parts of that
// size, the smallest whole number of MiB that fits (a known size up to
// MaxObjectSize; minio-go refuses the upload otherwise). A Put buffers up
// to Concurrency+1 parts, so such a body costs more memory.
func partSizeFor(size, configured int64) int64 {
	if size <= configured*blobstore.MaxParts {
		return configured
	}
	const mib = 1 << 20
	need := (size + blobstore.MaxParts - 1) / blobstore.MaxParts
	return min((need+mib-1)/mib*mib, MaxPartSize)
}

// body wraps the caller's reader. It counts bytes, stops on ctx, and checks
// the declared size before handing on the last byte: when want bytes have
// been read it reads once more, and anything but EOF fails the read. Failing
// then, not after the upload, keeps a wrong-size object from ever being
// completed. The first error is kept in err.
type body struct {
	ctx  context.Context
	r    io.Reader
	want int64 // declared size, or -1
	n    int64 // bytes read from r
	eof  bool  // r is drained and n is the final size
	err  error
	sent atomic.Int64 // n, for other goroutines
}

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.eof {
		return 0, io.EOF
	}
	if err := b.ctx.Err(); err != nil {
		return 0, b.fail(err)
	}
	if b.want >= 0 {
		rest := b.want - b.n
		if rest == 0 {
			return 0, b.expectEOF()
		}
		if int64(len(p)) > rest {
			p = p[:rest]
		}
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	b.sent.Store(b.n)
	switch {
	case err == io.EOF:
		if b.want >= 0 && b.n < b.want {
			return 0, b.fail(fmt.Errorf("%w: body ended after %d of %d bytes", blobstore.ErrSizeMismatch, b.n, b.want))
		}
		b.eof = true
		return n, io.EOF
	case err != nil:
		return n, b.fail(err)
	case b.want >= 0 && b.n == b.want:
		if err := b.expectEOF(); err != io.EOF {
			return 0, err
		}
	}
	return n, nil
}

// expectEOF checks that r has nothing beyond the declared size. It returns
// io.EOF if so, and the recorded error otherwise.
func (b *body) expectEOF() error {
	var one [1]byte
	for range 100 { // a reader may return 0, nil a few times
		n, err := b.r.Read(one[:])
		if n > 0 {
			return b.fail(fmt.Errorf("%w: body is longer than the declared %d bytes", blobstore.ErrSizeMismatch, b.want))
		}
		if err == io.EOF {
			b.eof = true
			return io.EOF
		}
		if err != nil {
			return b.fail(err)
		}
	}
	return b.fail(io.ErrNoProgress)
}

func (b *body) fail(err error) error {
	b.err = err
	return err
}

// readUpTo reads until EOF or until the body has more than limit bytes,
// growing the buffer as data arrives so that a small body of unknown size
// costs a small buffer. b.eof tells which happened; in the second case the
// buffer holds limit+1 bytes.
func (b *body) readUpTo(limit int64) ([]byte, error) {
	if b.want >= 0 {
		limit = b.want // and the body checks the size on the way
	}
	buf := make([]byte, 0, min(limit+1, int64(64<<10)))
	for !b.eof && int64(len(buf)) <= limit {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(int64(2*cap(buf)), limit+1))
			copy(grown, buf)
			buf = grown
		}
		n, err := b.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil && err != io.EOF {
			return nil, err
		}
	}
	return buf, nil
}
