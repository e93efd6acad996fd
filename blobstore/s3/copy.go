package s3

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"golang.org/x/sync/errgroup"

	"github.com/s3dfs/s3dfs/blobstore"
)

var _ blobstore.Copier = (*Store)(nil)

const (
	// maxWholeCopy is the largest object one CopyObject request may copy
	// (the S3 limit); larger ones are copied part by part.
	maxWholeCopy = MaxPartSize
	// copyPartSize is the size of a part of a multipart copy. The server
	// copies a part before it answers, so a part must be small enough to
	// finish well within Options.ResponseTimeout, and there must be at
	// most MaxParts of them.
	copyPartSize = 512 << 20
)

// Copy implements blobstore.Copier with a server-side copy: one CopyObject
// request for objects up to 5 GiB, and for larger ones a multipart upload
// whose parts are UploadPartCopy requests (Options.Concurrency at once),
// completed like any multipart upload and aborted if a part fails. Either
// way the bytes never leave the server.
//
// A HEAD on src comes first: it reports a missing src as ErrNotFound,
// gives the size that decides between the two ways, and gives the ETag
// that every copy request is made conditional on, so a src overwritten
// meanwhile fails the copy instead of mixing two blobs.
func (s *Store) Copy(ctx context.Context, src, dst string, opts blobstore.PutOptions) (blobstore.Info, error) {
	return s.copyObject(ctx, src, dst, opts, maxWholeCopy, copyPartSize)
}

// copyObject is Copy with the size limits as parameters, so that tests can
// send small objects down the multipart path.
func (s *Store) copyObject(ctx context.Context, src, dst string, opts blobstore.PutOptions, maxWhole, partSize int64) (blobstore.Info, error) {
	if err := s.validateKey(src); err != nil {
		return blobstore.Info{}, err
	}
	if err := s.validateKey(dst); err != nil {
		return blobstore.Info{}, err
	}
	if src == dst {
		return blobstore.Info{}, fmt.Errorf("s3: copy %s: %w: source and destination are the same blob", src, blobstore.ErrInvalidKey)
	}
	if err := blobstore.ValidateMetadata(opts.Metadata); err != nil {
		return blobstore.Info{}, err
	}
	var size atomic.Int64 // the server copies this many bytes: set once known
	ctx, c := s.begin(ctx, size.Load)
	defer c.end()
	oi, err := s.client.StatObject(ctx, s.bucket, s.object(src), minio.StatObjectOptions{})
	if err != nil {
		return blobstore.Info{}, s.classify("copy", src, c.result(err))
	}
	size.Store(oi.Size)
	var modTime time.Time
	if ranges := copyRanges(oi.Size, maxWhole, partSize); ranges == nil {
		modTime, err = s.copyWhole(ctx, src, dst, oi.ETag, opts.Metadata)
	} else {
		modTime, err = s.copyParts(ctx, src, dst, oi.ETag, opts.Metadata, ranges)
	}
	if err != nil {
		if st := c.stalled(); st != nil {
			return blobstore.Info{}, s.classify("copy "+dst+" from", src, c.result(err))
		}
		return blobstore.Info{}, err
	}
	if modTime.IsZero() {
		modTime = time.Now()
	}
	return blobstore.Info{Key: dst, Size: oi.Size, ModTime: modTime}, nil
}

// byteRange is one part of a multipart copy.
type byteRange struct{ start, length int64 }

// copyRanges decides how Copy copies an object of size bytes: nil means
// one CopyObject request, otherwise the parts of a multipart copy, in
// order. Parts have partSize bytes except the last, which may be smaller;
// partSize grows if the object would need more than MaxParts parts.
func copyRanges(size, maxWhole, partSize int64) []byteRange {
	if size <= maxWhole {
		return nil
	}
	if parts := (size + partSize - 1) / partSize; parts > blobstore.MaxParts {
		partSize = (size + blobstore.MaxParts - 1) / blobstore.MaxParts
	}
	ranges := make([]byteRange, 0, (size+partSize-1)/partSize)
	for off := int64(0); off < size; off += partSize {
		ranges = append(ranges, byteRange{start: off, length: min(partSize, size-off)})
	}
	return ranges
}

// copyWhole copies src to dst in one CopyObject request.
//
// minio-go's CopyDestOptions mangles some metadata keys: it strips one
// "x-amz-meta-" from each key and then sends names it knows as headers of
// their own (content-type, expires, x-amz-...) as those headers, so a
// user key "content-type" would set the object's Content-Type. Given the
// prefix twice, what is left after the strip is the complete user-metadata
// header, which it sends as is. The conformance suite copies such keys.
// (minio.Core's CopyObject sends headers verbatim but, unlike this one,
// does not notice an error that S3 reports inside a 200 response.)
func (s *Store) copyWhole(ctx context.Context, src, dst, etag string, md map[string]string) (time.Time, error) {
	um := make(map[string]string, len(md))
	for k, v := range md {
		um["x-amz-meta-x-amz-meta-"+k] = v
	}
	ui, err := s.client.CopyObject(ctx,
		minio.CopyDestOptions{
			Bucket:          s.bucket,
			Object:          s.object(dst),
			ReplaceMetadata: true,
			UserMetadata:    um,
			ContentType:     contentType,
		},
		minio.CopySrcOptions{Bucket: s.bucket, Object: s.object(src), MatchETag: etag})
	if err != nil {
		return time.Time{}, s.classifyCopy(src, dst, err)
	}
	return ui.LastModified, nil
}

// copyParts copies src to dst as a multipart upload of UploadPartCopy
// requests, one per range.
func (s *Store) copyParts(ctx context.Context, src, dst, etag string, md map[string]string, ranges []byteRange) (time.Time, error) {
	id, err := s.core.NewMultipartUpload(ctx, s.bucket, s.object(dst), minio.PutObjectOptions{
		UserMetadata: userMetadata(md),
		ContentType:  contentType,
	})
	if err != nil {
		return time.Time{}, s.classify("copy to", dst, err)
	}
	completed := false
	defer func() {
		if !completed {
			// Detached from ctx, so that cancellation cleans up too.
			_ = s.core.AbortMultipartUpload(context.WithoutCancel(ctx), s.bucket, s.object(dst), id)
		}
	}()

	parts := make([]minio.CompletePart, len(ranges))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.opts.Concurrency)
	cond := map[string]string{"x-amz-copy-source-if-match": etag}
	for i, r := range ranges {
		g.Go(func() error {
			p, err := s.core.CopyObjectPart(gctx, s.bucket, s.object(src), s.bucket, s.object(dst), id,
				i+1, r.start, r.length, cond)
			if err != nil {
				return s.classifyCopy(src, dst, err)
			}
			if p.ETag == "" {
				// minio.Core does not look for an error inside a 200
				// response; an answer without an ETag is one.
				return fmt.Errorf("s3: copy %s to %s: part %d: the server's answer has no ETag", src, dst, i+1)
			}
			parts[i] = p
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return time.Time{}, err
	}
	ui, err := s.core.CompleteMultipartUpload(ctx, s.bucket, s.object(dst), id, parts, minio.PutObjectOptions{})
	if err != nil {
		return time.Time{}, s.classify("copy to", dst, err)
	}
	completed = true
	return ui.LastModified, nil
}

// classifyCopy classifies the error of a copy request. S3 names no key in
// its errors: NoSuchKey on a copy means the source is missing (it was
// deleted after Copy looked at it), and PreconditionFailed that it was
// overwritten.
func (s *Store) classifyCopy(src, dst string, err error) error {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && resp.Code == "PreconditionFailed" {
		return fmt.Errorf("s3: copy %s/%s%s to %s: the source was overwritten during the copy: %w",
			s.bucket, s.prefix, src, dst, err)
	}
	return s.classify("copy "+dst+" from", src, err)
}
