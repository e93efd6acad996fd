// Package s3store turns the S3 server of a test (internal/s3test) into
// blobstore/s3 options, so that tests above the blob store open their
// stores one way. (It is not part of s3test itself, which blobstore/s3's
// own internal tests import.)
package s3store

import (
	"github.com/s3dfs/s3dfs/blobstore/s3"
	"github.com/s3dfs/s3dfs/internal/s3test"
)

// Options returns s3.DefaultOptions aimed at cfg's server and bucket.
func Options(cfg s3test.Config) s3.Options {
	o := s3.DefaultOptions()
	o.Endpoint, o.Bucket, o.Region, o.UseTLS = cfg.Endpoint, cfg.Bucket, cfg.Region, cfg.UseTLS
	o.AccessKey, o.SecretKey = cfg.AccessKey, cfg.SecretKey
	return o
}
