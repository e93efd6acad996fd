package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/minio/minio-go/v7"

	"github.com/s3dfs/s3dfs/blobstore"
)

// transientCodes are S3 error codes that say "try again later" whatever
// the HTTP status that carried them.
var transientCodes = map[string]bool{
	"SlowDown":             true,
	"SlowDownRead":         true,
	"SlowDownWrite":        true,
	"RequestTimeout":       true,
	"InternalError":        true,
	"ServiceUnavailable":   true,
	"Throttling":           true,
	"ThrottlingException":  true,
	"RequestLimitExceeded": true,
	"RequestThrottled":     true,
}

// IsTransient reports whether err, as returned by a Store, may go away if
// the same call is made again later: HTTP 5xx, 408 and 429, the S3 codes
// SlowDown, RequestTimeout, InternalError and the throttling family, network
// errors and connection or response timeouts. Every other S3 error (4xx such
// as AccessDenied, SignatureDoesNotMatch, NoSuchBucket, InvalidBucketName)
// is permanent. So are the caller's own cancellation and deadline: repeating
// the call under the same context cannot help.
//
// By the time a Store returns a transient error, minio-go has already spent
// Options.MaxRetries retries on it.
func IsTransient(err error) bool {
	if err == nil || isContextErr(err) {
		return false
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		return transientCodes[resp.Code] || resp.StatusCode >= 500 ||
			resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return !dnsErr.IsNotFound
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	return false
}

// isContextErr reports whether err's chain holds the context package's own
// Canceled or DeadlineExceeded, which means the caller gave up. It compares
// identities on purpose: net/http's timeouts (such as "timeout awaiting
// response headers") claim to be context.DeadlineExceeded under errors.Is,
// but they are the server's fault, and transient.
func isContextErr(err error) bool {
	for err != nil {
		if err == context.Canceled || err == context.DeadlineExceeded {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if isContextErr(e) {
					return true
				}
			}
			return false
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return false
		}
	}
	return false
}

// classify turns an error from minio-go into the error a Store returns:
// a missing object becomes blobstore.ErrNotFound and an unsatisfiable range
// blobstore.ErrRangeNotSatisfiable, while the original error stays in the
// chain (errors.As still finds the minio.ErrorResponse). The message names
// the operation, the object and the S3 code, which minio-go's own message
// leaves out.
func (s *Store) classify(op, key string, err error) error {
	where := fmt.Sprintf("s3: %s %s/%s%s", op, s.bucket, s.prefix, key)
	var resp minio.ErrorResponse
	isResp := errors.As(err, &resp)
	if IsTransient(err) {
		if isResp {
			return fmt.Errorf("%s: %w on %s (%s, HTTP %d): %w", where, blobstore.ErrUnavailable, s.endpoint, resp.Code, resp.StatusCode, err)
		}
		return fmt.Errorf("%s: %w on %s: %w", where, blobstore.ErrUnavailable, s.endpoint, err)
	}
	if !isResp {
		return fmt.Errorf("%s on %s: %w", where, s.endpoint, err)
	}
	detail := fmt.Sprintf("%s, HTTP %d", resp.Code, resp.StatusCode)
	switch resp.Code {
	case "NoSuchKey", "NotFound":
		return fmt.Errorf("%s: %w (%s): %w", where, blobstore.ErrNotFound, detail, err)
	case "InvalidRange":
		return fmt.Errorf("%s: %w (%s): %w", where, blobstore.ErrRangeNotSatisfiable, detail, err)
	case "EntityTooLarge":
		return fmt.Errorf("%s: %w (%s): %w", where, blobstore.ErrTooLarge, detail, err)
	case "NoSuchBucket":
		return fmt.Errorf("%s: bucket %q does not exist on %s (%s): %w", where, s.bucket, s.endpoint, detail, err)
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch":
		return fmt.Errorf("%s: access denied by %s, check the access key, the secret key and the bucket policy (%s): %w",
			where, s.endpoint, detail, err)
	}
	return fmt.Errorf("%s on %s (%s): %w", where, s.endpoint, detail, err)
}
