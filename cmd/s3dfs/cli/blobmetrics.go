package cli

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/s3dfs/s3dfs/blobstore"
)

// blobMetrics are the latency and error counts of blob store operations,
// by operation, for `s3dfs serve`'s /metrics.
type blobMetrics struct {
	duration *prometheus.HistogramVec
	errs     *prometheus.CounterVec
}

func newBlobMetrics(reg prometheus.Registerer, backend string) (*blobMetrics, error) {
	labels := prometheus.Labels{"backend": backend}
	m := &blobMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:        "s3dfs_blobstore_operation_duration_seconds",
			Help:        "Latency of blob store operations (for open: until the content starts), by operation.",
			ConstLabels: labels,
			Buckets:     []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"op"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "s3dfs_blobstore_errors_total",
			Help:        "Blob store operations that failed, by operation (not found, cancelled and client size mismatches excluded).",
			ConstLabels: labels,
		}, []string{"op"}),
	}
	for _, c := range []prometheus.Collector{m.duration, m.errs} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *blobMetrics) done(op string, start time.Time, err error) {
	m.duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil && !expectedBlobError(err) {
		m.errs.WithLabelValues(op).Inc()
	}
}

// expectedBlobError: outcomes that say nothing about the store's health.
func expectedBlobError(err error) bool {
	return errors.Is(err, blobstore.ErrNotFound) || errors.Is(err, blobstore.ErrRangeNotSatisfiable) ||
		errors.Is(err, blobstore.ErrSizeMismatch) || errors.Is(err, context.Canceled)
}

// meteredStore measures every operation of a blob store.
type meteredStore struct {
	inner blobstore.Store
	m     *blobMetrics
}

var _ blobstore.Store = (*meteredStore)(nil)

// meterBlobs wraps a store so that its operations are measured. The result
// has exactly the optional capabilities of the store (blobstore.Copier,
// blobstore.Multiparter), which the driver finds by type assertion: a
// wrapper that hid them would silently turn server-side copies into
// downloads and re-uploads, and break resumable uploads.
func meterBlobs(s blobstore.Store, m *blobMetrics) blobstore.Store {
	base := &meteredStore{inner: s, m: m}
	c, isCopier := s.(blobstore.Copier)
	mp, isMulti := s.(blobstore.Multiparter)
	switch {
	case isCopier && isMulti:
		return &meteredFull{meteredStore: base, meteredCopy: meteredCopy{c, m}, meteredMulti: meteredMulti{mp, m}}
	case isCopier:
		return &meteredCopier{meteredStore: base, meteredCopy: meteredCopy{c, m}}
	case isMulti:
		return &meteredMultiparter{meteredStore: base, meteredMulti: meteredMulti{mp, m}}
	}
	return base
}

// The wrappers for each combination of capabilities.
type (
	meteredCopier struct {
		*meteredStore
		meteredCopy
	}
	meteredMultiparter struct {
		*meteredStore
		meteredMulti
	}
	meteredFull struct {
		*meteredStore
		meteredCopy
		meteredMulti
	}
)

var (
	_ blobstore.Copier      = (*meteredCopier)(nil)
	_ blobstore.Multiparter = (*meteredMultiparter)(nil)
	_ blobstore.Copier      = (*meteredFull)(nil)
	_ blobstore.Multiparter = (*meteredFull)(nil)
)

func (s *meteredStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts blobstore.PutOptions) (blobstore.Info, error) {
	start := time.Now()
	info, err := s.inner.Put(ctx, key, r, size, opts)
	s.m.done("put", start, err)
	return info, err
}

func (s *meteredStore) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	start := time.Now()
	rc, err := s.inner.Open(ctx, key, offset, length)
	s.m.done("open", start, err)
	return rc, err
}

func (s *meteredStore) Stat(ctx context.Context, key string) (blobstore.Info, error) {
	start := time.Now()
	info, err := s.inner.Stat(ctx, key)
	s.m.done("stat", start, err)
	return info, err
}

func (s *meteredStore) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := s.inner.Delete(ctx, key)
	s.m.done("delete", start, err)
	return err
}

func (s *meteredStore) List(ctx context.Context, prefix string, fn func(blobstore.Info) error) error {
	start := time.Now()
	err := s.inner.List(ctx, prefix, fn)
	s.m.done("list", start, err)
	return err
}

type meteredCopy struct {
	c blobstore.Copier
	m *blobMetrics
}

func (s meteredCopy) Copy(ctx context.Context, src, dst string, opts blobstore.PutOptions) (blobstore.Info, error) {
	start := time.Now()
	info, err := s.c.Copy(ctx, src, dst, opts)
	s.m.done("copy", start, err)
	return info, err
}

type meteredMulti struct {
	mp blobstore.Multiparter
	m  *blobMetrics
}

func (s meteredMulti) MinPartSize() int64 { return s.mp.MinPartSize() }

func (s meteredMulti) CreateMultipart(ctx context.Context, key string, opts blobstore.PutOptions) (string, error) {
	start := time.Now()
	id, err := s.mp.CreateMultipart(ctx, key, opts)
	s.m.done("create_multipart", start, err)
	return id, err
}

func (s meteredMulti) UploadPart(ctx context.Context, key, uploadID string, n int, r io.Reader, size int64) (blobstore.Part, error) {
	start := time.Now()
	p, err := s.mp.UploadPart(ctx, key, uploadID, n, r, size)
	s.m.done("upload_part", start, err)
	return p, err
}

func (s meteredMulti) ListParts(ctx context.Context, key, uploadID string) ([]blobstore.Part, error) {
	start := time.Now()
	ps, err := s.mp.ListParts(ctx, key, uploadID)
	s.m.done("list_parts", start, err)
	return ps, err
}

func (s meteredMulti) CompleteMultipart(ctx context.Context, key, uploadID string, parts []blobstore.Part) (blobstore.Info, error) {
	start := time.Now()
	info, err := s.mp.CompleteMultipart(ctx, key, uploadID, parts)
	s.m.done("complete_multipart", start, err)
	return info, err
}

func (s meteredMulti) AbortMultipart(ctx context.Context, key, uploadID string) error {
	start := time.Now()
	err := s.mp.AbortMultipart(ctx, key, uploadID)
	s.m.done("abort_multipart", start, err)
	return err
}
