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

// blobCopier is the optional server-side copy of a blob store, which the
// driver uses when the store has it; the wrapper keeps it visible.
type blobCopier interface {
	Copy(ctx context.Context, src, dst string, opts blobstore.PutOptions) (blobstore.Info, error)
}

// meteredCopier is a meteredStore over a store that can copy.
type meteredCopier struct {
	*meteredStore
	copier blobCopier
}

var (
	_ blobstore.Store = (*meteredStore)(nil)
	_ blobCopier      = (*meteredCopier)(nil)
)

// meterBlobs wraps a store so that its operations are measured; the
// result can copy server-side exactly when the store can.
func meterBlobs(s blobstore.Store, m *blobMetrics) blobstore.Store {
	ms := &meteredStore{inner: s, m: m}
	if c, ok := s.(blobCopier); ok {
		return &meteredCopier{meteredStore: ms, copier: c}
	}
	return ms
}

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

func (s *meteredCopier) Copy(ctx context.Context, src, dst string, opts blobstore.PutOptions) (blobstore.Info, error) {
	start := time.Now()
	info, err := s.copier.Copy(ctx, src, dst, opts)
	s.m.done("copy", start, err)
	return info, err
}
