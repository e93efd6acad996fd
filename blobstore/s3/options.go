package s3

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/s3dfs/s3dfs/blobstore"
)

// Part size limits of the S3 multipart API.
const (
	MinPartSize = 5 << 20
	MaxPartSize = 5 << 30
	// MaxObjectSize is the largest object S3 stores (5 TiB).
	MaxObjectSize = 5 << 40
)

// Options configure a Store. Start from DefaultOptions.
type Options struct {
	// Endpoint is the server's host:port, without a scheme.
	Endpoint string
	// Bucket holds the blobs. It must exist unless CreateBucket is set.
	Bucket string
	// Prefix, if not empty, is put in front of every key inside the bucket,
	// so that several stores can share one bucket. It must end in "/".
	Prefix string

	AccessKey string
	SecretKey string
	// Region is sent in the request signature. It must be set: with a known
	// region minio-go never asks the server for the bucket's location.
	Region string

	// UseTLS selects https. InsecureSkipVerify turns off certificate
	// checks (self-signed test servers only).
	UseTLS             bool
	InsecureSkipVerify bool

	// PathStyle addresses the bucket as http://endpoint/bucket/key (what
	// MinIO, Garage, Ceph RGW, SeaweedFS and versitygw expect by default);
	// false selects virtual-host style, http://bucket.endpoint/key (what AWS
	// prefers), which needs a DNS name as Endpoint and a DNS-safe bucket.
	PathStyle bool

	// CreateBucket makes New create the bucket if it does not exist.
	CreateBucket bool

	// PartSize is the size of one multipart part, between MinPartSize and
	// MaxPartSize. Bodies up to PartSize bytes are sent in one PUT; larger
	// and unknown-size bodies in parts of this size.
	PartSize int64
	// Concurrency is the number of parts of one Put in flight at once (at
	// least 1). A Put buffers up to (Concurrency+1) * PartSize bytes.
	Concurrency int

	// MaxRetries is how often minio-go repeats one HTTP request after a
	// transient failure (network error, timeout, 5xx, SlowDown, ...), with
	// jittered exponential backoff capped at one second. 0 disables retries.
	MaxRetries int

	// DialTimeout bounds the wait for a connection (TCP and TLS
	// handshakes) for one request.
	DialTimeout time.Duration
	// ResponseTimeout bounds the wait for the first byte of the answer
	// once a request has been sent; it catches a server that accepts but
	// stalls. Requests that make the server copy bytes first get more
	// time: see ServerCopyRate.
	ResponseTimeout time.Duration
	// IdleTimeout bounds the time without progress while a request body is
	// written to S3 and while a response body is read from it: S3 must
	// take or send some bytes at least this often. The caller's own pace
	// (a slow client on the other side) does not count, so no transfer is
	// cut for being large or slow.
	IdleTimeout time.Duration
	// ServerCopyRate is the slowest rate, in bytes per second, at which S3
	// is expected to copy bytes on its own: CopyObject, UploadPartCopy and
	// CompleteMultipartUpload get ResponseTimeout plus their size at this
	// rate for the first byte of their answer.
	ServerCopyRate int64
}

// DefaultOptions returns Options with every tunable set to its default;
// Endpoint, Bucket and the keys are left for the caller.
func DefaultOptions() Options {
	return Options{
		Region:          "us-east-1",
		PathStyle:       true,
		PartSize:        16 << 20,
		Concurrency:     4,
		MaxRetries:      3,
		DialTimeout:     5 * time.Second,
		ResponseTimeout: 15 * time.Second,
		IdleTimeout:     15 * time.Second,
		ServerCopyRate:  20 << 20,
	}
}

// maxRetriesLimit keeps MaxRetries in a range where the worst case (about
// one second of backoff per retry plus the timeouts) stays understandable.
const maxRetriesLimit = 20

// Validate reports every problem with o, in words meant for whoever wrote
// the configuration. It never adjusts a value.
func (o Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("s3: options: "+format, args...))
	}

	switch host, port, err := net.SplitHostPort(o.Endpoint); {
	case o.Endpoint == "":
		bad("Endpoint is empty; want host:port")
	case strings.Contains(o.Endpoint, "://"):
		bad("Endpoint %q must be host:port without a scheme (use UseTLS for https)", o.Endpoint)
	case err != nil || host == "" || port == "":
		bad("Endpoint %q is not host:port", o.Endpoint)
	case !o.PathStyle && net.ParseIP(host) != nil:
		bad("Endpoint %q is an IP address, which virtual-host addressing cannot use (bucket.%s); set PathStyle", o.Endpoint, host)
	}

	if o.Bucket == "" {
		bad("Bucket is empty")
	} else if o.PathStyle {
		if err := s3utils.CheckValidBucketName(o.Bucket); err != nil {
			bad("Bucket %q: %v", o.Bucket, err)
		}
	} else {
		if err := s3utils.CheckValidBucketNameStrict(o.Bucket); err != nil {
			bad("Bucket %q is not usable with virtual-host addressing: %v", o.Bucket, err)
		} else if o.UseTLS && strings.Contains(o.Bucket, ".") {
			bad("Bucket %q contains '.', which breaks TLS certificates under virtual-host addressing; set PathStyle", o.Bucket)
		}
	}

	if o.Prefix != "" {
		if !strings.HasSuffix(o.Prefix, "/") {
			bad("Prefix %q must end in \"/\"", o.Prefix)
		} else if err := blobstore.ValidatePrefix(o.Prefix); err != nil {
			bad("Prefix %q: %v", o.Prefix, err)
		}
	}

	if o.AccessKey == "" || o.SecretKey == "" {
		bad("AccessKey and SecretKey must both be set")
	}
	if o.Region == "" {
		bad("Region is empty (most servers accept \"us-east-1\")")
	}
	if o.PartSize < MinPartSize || o.PartSize > MaxPartSize {
		bad("PartSize %d is outside [%d (5 MiB), %d (5 GiB)]", o.PartSize, MinPartSize, MaxPartSize)
	}
	if o.Concurrency < 1 || o.Concurrency > 64 {
		bad("Concurrency %d is outside [1, 64]", o.Concurrency)
	}
	if o.MaxRetries < 0 || o.MaxRetries > maxRetriesLimit {
		bad("MaxRetries %d is outside [0, %d]", o.MaxRetries, maxRetriesLimit)
	}
	if o.DialTimeout <= 0 {
		bad("DialTimeout %v must be positive", o.DialTimeout)
	}
	if o.ResponseTimeout <= 0 {
		bad("ResponseTimeout %v must be positive", o.ResponseTimeout)
	}
	if o.IdleTimeout <= 0 {
		bad("IdleTimeout %v must be positive", o.IdleTimeout)
	}
	if o.ServerCopyRate <= 0 {
		bad("ServerCopyRate %d must be positive (bytes per second)", o.ServerCopyRate)
	}
	return errors.Join(errs...)
}
