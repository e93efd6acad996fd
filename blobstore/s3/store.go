package s3

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/s3dfs/s3dfs/blobstore"
)

// Store keeps blobs as objects in one S3 bucket. It is safe for concurrent
// use.
type Store struct {
	client   *minio.Client
	core     minio.Core // the same client, for GET without minio.Object's laziness
	endpoint string
	bucket   string
	prefix   string
	opts     Options
}

var _ blobstore.Store = (*Store)(nil)

// New connects to the server described by opts and checks that the bucket
// exists (creating it if opts.CreateBucket is set). The check also catches
// wrong endpoints and credentials early.
func New(ctx context.Context, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	lookup := minio.BucketLookupPath
	if !opts.PathStyle {
		lookup = minio.BucketLookupDNS
	}
	client, err := minio.New(opts.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(opts.AccessKey, opts.SecretKey, ""),
		Secure:       opts.UseTLS,
		Transport:    newDeadlineTransport(newTransport(opts), opts),
		Region:       opts.Region,
		BucketLookup: lookup,
		// minio-go counts attempts, not retries; 1 means "no retry".
		MaxRetries: opts.MaxRetries + 1,
	})
	if err != nil {
		return nil, fmt.Errorf("s3: client for %s: %w", opts.Endpoint, err)
	}
	s := &Store{
		client:   client,
		core:     minio.Core{Client: client},
		endpoint: opts.Endpoint,
		bucket:   opts.Bucket,
		prefix:   opts.Prefix,
		opts:     opts,
	}
	ctx, c := s.begin(ctx, nil)
	defer c.end()
	exists, err := client.BucketExists(ctx, opts.Bucket)
	if err != nil {
		return nil, s.classify("check bucket", "", c.result(err))
	}
	if !exists {
		if !opts.CreateBucket {
			return nil, fmt.Errorf("s3: bucket %q does not exist on %s (set CreateBucket to create it)", opts.Bucket, opts.Endpoint)
		}
		err := client.MakeBucket(ctx, opts.Bucket, minio.MakeBucketOptions{Region: opts.Region})
		if err != nil && minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
			return nil, s.classify("create bucket", "", c.result(err))
		}
	}
	return s, nil
}

// newTransport is minio-go's default transport. TLS trusts the system
// roots (and $SSL_CERT_FILE); AWS_CA_BUNDLE is an AWS SDK convention that
// neither Go nor minio-go reads. The deadlines are the watchdog's (see
// deadline.go); the transport's own are a backstop, twice as long, so that
// the watchdog's (which fail the call at once) come first.
func newTransport(opts Options) *http.Transport {
	t := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   2 * opts.DialTimeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   2 * opts.DialTimeout,
		ExpectContinueTimeout: time.Second,
		// Objects stored with Content-Encoding: gzip must come back as
		// stored, not inflated by the transport.
		DisableCompression: true,
	}
	if opts.UseTLS {
		t.TLSClientConfig = &tls.Config{
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: opts.InsecureSkipVerify, //nolint:gosec // opt-in for test servers
		}
	}
	return t
}

// Client returns the underlying minio-go client, for benchmarks that
// compare raw S3 calls with the Store on the same server.
func (s *Store) Client() *minio.Client { return s.client }

// Bucket returns the bucket name.
func (s *Store) Bucket() string { return s.bucket }

func (s *Store) object(key string) string { return s.prefix + key }

// validateKey is blobstore.ValidateKey plus the S3 limit on object names,
// which the prefix eats into.
func (s *Store) validateKey(key string) error {
	if err := blobstore.ValidateKey(key); err != nil {
		return err
	}
	if len(s.prefix)+len(key) > blobstore.MaxKeyLen {
		return fmt.Errorf("%w: %d bytes, %d with the store's prefix %q; S3 allows %d",
			blobstore.ErrInvalidKey, len(key), len(s.prefix)+len(key), s.prefix, blobstore.MaxKeyLen)
	}
	return nil
}

// Open implements blobstore.Store. The request is sent before Open returns,
// so a missing key or a bad range is reported here, not by the first Read.
// minio-go retries that first request; a failure while reading the body is
// returned by Read and not retried.
func (s *Store) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := s.validateKey(key); err != nil {
		return nil, err
	}
	if offset < 0 || length < -1 {
		return nil, fmt.Errorf("s3: open %s: offset %d, length %d: %w", key, offset, length, blobstore.ErrRangeNotSatisfiable)
	}
	if length == 0 {
		// No Range header can ask for zero bytes; a Stat checks key and offset.
		info, err := s.Stat(ctx, key)
		if err != nil {
			return nil, err
		}
		return emptyRange(key, offset, info.Size)
	}

	if length > math.MaxInt64-offset {
		length = -1 // reaches past any possible end anyway
	}
	var opts minio.GetObjectOptions
	switch {
	case length > 0:
		_ = opts.SetRange(offset, offset+length-1)
	case offset > 0:
		_ = opts.SetRange(offset, 0) // bytes=offset-
	}
	cctx, c := s.begin(ctx, nil)
	body, _, _, err := s.core.GetObject(cctx, s.bucket, s.object(key), opts)
	if err == nil {
		return &objectReader{rc: body, c: c, s: s, key: key}, nil
	}
	c.end()
	err = c.result(err)
	if minio.ToErrorResponse(err).Code == "InvalidRange" && offset == 0 {
		// S3 answers any Range on an empty object with 416, but the contract
		// promises an empty reader for offset 0.
		info, serr := s.Stat(ctx, key)
		if serr != nil {
			return nil, serr
		}
		if info.Size == 0 {
			return io.NopCloser(strings.NewReader("")), nil
		}
	}
	return nil, s.classify("open", key, err)
}

// objectReader is the body of an object that Open returns: its Store
// call ends when it is closed, and a read that fails because S3 stalled
// says so (blobstore.ErrUnavailable).
type objectReader struct {
	rc  io.ReadCloser
	c   *call
	s   *Store
	key string
}

func (r *objectReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if err != nil && err != io.EOF {
		err = r.s.classify("read", r.key, r.c.result(err))
	}
	return n, err
}

func (r *objectReader) Close() error {
	err := r.rc.Close()
	r.c.end()
	return err
}

func emptyRange(key string, offset, size int64) (io.ReadCloser, error) {
	if offset > size || offset == size && size > 0 {
		return nil, fmt.Errorf("s3: open %s: offset %d of %d bytes: %w", key, offset, size, blobstore.ErrRangeNotSatisfiable)
	}
	return io.NopCloser(strings.NewReader("")), nil
}

// Stat implements blobstore.Store. Metadata keys come back lower-case
// (HTTP canonicalizes header names on the way).
//
// A HEAD response has no body, so S3 cannot say whether the key or the
// bucket is missing: a bucket deleted after New makes Stat report
// ErrNotFound. New checks the bucket once.
func (s *Store) Stat(ctx context.Context, key string) (blobstore.Info, error) {
	if err := s.validateKey(key); err != nil {
		return blobstore.Info{}, err
	}
	ctx, c := s.begin(ctx, nil)
	defer c.end()
	oi, err := s.client.StatObject(ctx, s.bucket, s.object(key), minio.StatObjectOptions{})
	if err != nil {
		return blobstore.Info{}, s.classify("stat", key, c.result(err))
	}
	md := make(map[string]string, len(oi.UserMetadata))
	for k, v := range oi.UserMetadata {
		md[strings.ToLower(k)] = v
	}
	return blobstore.Info{Key: key, Size: oi.Size, ModTime: oi.LastModified, Metadata: md}, nil
}

// Delete implements blobstore.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.validateKey(key); err != nil {
		return err
	}
	ctx, c := s.begin(ctx, nil)
	defer c.end()
	err := s.client.RemoveObject(ctx, s.bucket, s.object(key), minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != "NoSuchKey" {
		return s.classify("delete", key, c.result(err))
	}
	return nil
}

// List implements blobstore.Store with ListObjectsV2, whose pages (up to
// 1000 keys each) S3 returns in byte order. Each page request is retried by
// minio-go. Objects in the bucket whose names are not valid keys (written by
// someone else, such as "dir/" folder markers) are skipped.
func (s *Store) List(ctx context.Context, prefix string, fn func(blobstore.Info) error) error {
	if err := blobstore.ValidatePrefix(prefix); err != nil {
		return err
	}
	lctx, c := s.begin(ctx, nil)
	defer c.end() // also stops the page iterator if fn fails
	noOwner := false
	objects := s.client.ListObjectsIter(lctx, s.bucket, minio.ListObjectsOptions{
		Prefix:     s.object(prefix),
		Recursive:  true,
		FetchOwner: &noOwner,
	})
	for oi := range objects {
		if err := ctx.Err(); err != nil {
			break // reported below
		}
		if oi.Err != nil {
			return s.classify("list", prefix+"*", c.result(oi.Err))
		}
		key, ok := strings.CutPrefix(oi.Key, s.prefix)
		if !ok || blobstore.ValidateKey(key) != nil {
			continue
		}
		if err := fn(blobstore.Info{Key: key, Size: oi.Size, ModTime: oi.LastModified}); err != nil {
			return err
		}
	}
	// The iterator ends silently when its context is cancelled, by the
	// caller or by a stall.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: list %s/%s%s*: %w", s.bucket, s.prefix, prefix, err)
	}
	if err := c.stalled(); err != nil {
		return s.classify("list", prefix+"*", err)
	}
	return nil
}
