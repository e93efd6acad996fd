package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/s3dfs/s3dfs/blobstore"
)

var _ blobstore.Multiparter = (*Store)(nil)

// MinPartSize implements blobstore.Multiparter: 5 MiB, the S3 minimum.
// A part may have at most MaxPartSize (5 GiB) bytes.
func (s *Store) MinPartSize() int64 { return MinPartSize }

// CreateMultipart implements blobstore.Multiparter with an S3 multipart
// upload; the upload id is the server's.
func (s *Store) CreateMultipart(ctx context.Context, key string, opts blobstore.PutOptions) (string, error) {
	if err := s.validateKey(key); err != nil {
		return "", err
	}
	if err := blobstore.ValidateMetadata(opts.Metadata); err != nil {
		return "", err
	}
	ctx, c := s.begin(ctx, nil)
	defer c.end()
	id, err := s.core.NewMultipartUpload(ctx, s.bucket, s.object(key), minio.PutObjectOptions{
		UserMetadata: userMetadata(opts.Metadata),
		ContentType:  contentType,
	})
	if err != nil {
		return "", s.classify("create upload", key, c.result(err))
	}
	return id, nil
}

// UploadPart implements blobstore.Multiparter. Like Put, it buffers a part
// of at most Options.PartSize bytes, so that a wrong size is caught before
// anything is sent and minio-go can retry the request; a larger part
// streams from r, its size checked before the last byte is sent (a body of
// the wrong length then breaks the request, and S3 stores no part from a
// broken request), and is not retried.
func (s *Store) UploadPart(ctx context.Context, key, uploadID string, n int, r io.Reader, size int64) (blobstore.Part, error) {
	if err := s.validateKey(key); err != nil {
		return blobstore.Part{}, err
	}
	if err := blobstore.ValidatePartNumber(n); err != nil {
		return blobstore.Part{}, fmt.Errorf("s3: upload part of %s: %w", key, err)
	}
	fail := func(err error) (blobstore.Part, error) {
		return blobstore.Part{}, fmt.Errorf("s3: upload part %d of %s: %w", n, key, err)
	}
	if size < 0 || size > MaxPartSize {
		return fail(fmt.Errorf("size %d is outside [0, %d]", size, int64(MaxPartSize)))
	}
	if uploadID == "" {
		return fail(fmt.Errorf("empty upload id: %w", blobstore.ErrNotFound))
	}
	ctx, c := s.begin(ctx, nil)
	defer c.end()
	b := &body{ctx: ctx, r: r, want: size}
	var src io.Reader = b
	if size <= s.opts.PartSize {
		buf, err := b.readUpTo(size)
		if err != nil {
			return fail(err)
		}
		src = bytes.NewReader(buf)
	}
	op, err := s.core.PutObjectPart(ctx, s.bucket, s.object(key), uploadID, n, src, size, minio.PutObjectPartOptions{})
	if st := c.stalled(); st != nil && (err != nil || b.err != nil) {
		return blobstore.Part{}, s.classifyUpload(fmt.Sprintf("upload part %d of", n), key, uploadID, st)
	}
	if b.err != nil {
		return fail(b.err) // says more than the broken request
	}
	if err != nil {
		return blobstore.Part{}, s.classifyUpload(fmt.Sprintf("upload part %d of", n), key, uploadID, err)
	}
	if !b.eof {
		return fail(fmt.Errorf("minio-go sent %d of %d bytes", b.n, size))
	}
	return blobstore.Part{Number: n, Size: size, ETag: trimETag(op.ETag)}, nil
}

// ListParts implements blobstore.Multiparter, across as many pages as
// the server needs.
//
// Some servers (SeaweedFS) keep every upload of a part number and list
// them all; a listing that holds one number twice with different content
// cannot say which upload counts, so it is refused with ErrInvalidPart
// (CompleteMultipart still works: it is told which one counts).
func (s *Store) ListParts(ctx context.Context, key, uploadID string) ([]blobstore.Part, error) {
	parts, err := s.listParts(ctx, key, uploadID)
	if err != nil {
		return nil, err
	}
	out := parts[:0:0]
	for i, p := range parts {
		if i > 0 && parts[i-1].Number == p.Number {
			if parts[i-1] == p {
				continue // the same bytes uploaded twice: one part
			}
			return nil, fmt.Errorf("s3: list parts of %s: %w: the server lists part %d twice (%d bytes, ETag %q and %d bytes, ETag %q): it keeps earlier uploads of a part, so its listing cannot say which one counts",
				key, blobstore.ErrInvalidPart, p.Number, parts[i-1].Size, parts[i-1].ETag, p.Size, p.ETag)
		}
		out = append(out, p)
	}
	return out, nil
}

// listParts lists the stored parts as the server does, by number.
func (s *Store) listParts(ctx context.Context, key, uploadID string) ([]blobstore.Part, error) {
	if err := s.validateKey(key); err != nil {
		return nil, err
	}
	if uploadID == "" {
		return nil, fmt.Errorf("s3: list parts of %s: empty upload id: %w", key, blobstore.ErrNotFound)
	}
	ctx, c := s.begin(ctx, nil)
	defer c.end()
	parts := []blobstore.Part{}
	marker := 0
	for {
		res, err := s.core.ListObjectParts(ctx, s.bucket, s.object(key), uploadID, marker, 1000)
		if err != nil {
			return nil, s.classifyUpload("list parts of", key, uploadID, c.result(err))
		}
		for _, p := range res.ObjectParts {
			parts = append(parts, blobstore.Part{Number: p.PartNumber, Size: p.Size, ETag: trimETag(p.ETag)})
		}
		if !res.IsTruncated {
			break
		}
		if res.NextPartNumberMarker <= marker {
			return nil, fmt.Errorf("s3: list parts of %s: the server's part listing does not advance past part %d", key, marker)
		}
		marker = res.NextPartNumberMarker
	}
	slices.SortStableFunc(parts, func(a, b blobstore.Part) int { return a.Number - b.Number })
	return parts, nil
}

// CompleteMultipart implements blobstore.Multiparter. It lists the stored
// parts first and compares them with parts: S3 itself checks only the
// ETags (and not every server the minimum part size), while the contract
// asks for sizes too, and the size of the blob comes from them.
func (s *Store) CompleteMultipart(ctx context.Context, key, uploadID string, parts []blobstore.Part) (blobstore.Info, error) {
	if err := s.validateKey(key); err != nil {
		return blobstore.Info{}, err
	}
	if err := blobstore.ValidateParts(parts, MinPartSize); err != nil {
		return blobstore.Info{}, fmt.Errorf("s3: complete %s: %w", key, err)
	}
	stored, err := s.listParts(ctx, key, uploadID)
	if err != nil {
		return blobstore.Info{}, err
	}
	var size int64
	cps := make([]minio.CompletePart, len(parts))
	for i, want := range parts {
		// A part is there when the server lists it; a server that keeps
		// earlier uploads of a number lists them too, and assembles the
		// one whose ETag it is given.
		if !slices.Contains(stored, want) {
			got := "is not stored"
			if j := slices.IndexFunc(stored, func(p blobstore.Part) bool { return p.Number == want.Number }); j >= 0 {
				got = fmt.Sprintf("is stored with %d bytes and ETag %q", stored[j].Size, stored[j].ETag)
			}
			return blobstore.Info{}, fmt.Errorf("s3: complete %s: %w: part %d %s, the list says %d bytes and ETag %q",
				key, blobstore.ErrInvalidPart, want.Number, got, want.Size, want.ETag)
		}
		cps[i] = minio.CompletePart{PartNumber: want.Number, ETag: want.ETag}
		size += want.Size
	}
	ctx, c := s.begin(ctx, func() int64 { return size })
	defer c.end()
	ui, err := s.core.CompleteMultipartUpload(ctx, s.bucket, s.object(key), uploadID, cps, minio.PutObjectOptions{})
	if err != nil {
		return blobstore.Info{}, s.classifyUpload("complete", key, uploadID, c.result(err))
	}
	modTime := ui.LastModified
	if modTime.IsZero() {
		modTime = time.Now()
	}
	return blobstore.Info{Key: key, Size: size, ModTime: modTime}, nil
}

// AbortMultipart implements blobstore.Multiparter.
func (s *Store) AbortMultipart(ctx context.Context, key, uploadID string) error {
	if err := s.validateKey(key); err != nil {
		return err
	}
	if uploadID == "" {
		return nil
	}
	ctx, c := s.begin(ctx, nil)
	defer c.end()
	err := s.core.AbortMultipartUpload(ctx, s.bucket, s.object(key), uploadID)
	if err == nil {
		return nil
	}
	if err = s.classifyUpload("abort upload of", key, uploadID, c.result(err)); errors.Is(err, blobstore.ErrNotFound) {
		return nil
	}
	return err
}

// classifyUpload is classify for the multipart calls: NoSuchUpload
// becomes blobstore.ErrNotFound, and the codes S3 uses for a part list it
// cannot assemble become blobstore.ErrInvalidPart.
func (s *Store) classifyUpload(op, key, uploadID string, err error) error {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		where := fmt.Sprintf("s3: %s %s/%s%s", op, s.bucket, s.prefix, key)
		detail := fmt.Sprintf("%s, HTTP %d", resp.Code, resp.StatusCode)
		switch {
		case resp.Code == "NoSuchUpload":
			return fmt.Errorf("%s: upload: %w (%s): %w", where, blobstore.ErrNotFound, detail, err)
		case resp.Code == "InvalidRequest" && malformedUploadID(uploadID):
			// SeaweedFS refuses ids that look like paths with 400 instead
			// of NoSuchUpload. No server hands out such an id, so there is
			// no such upload.
			return fmt.Errorf("%s: upload id %q: %w (%s): %w", where, uploadID, blobstore.ErrNotFound, detail, err)
		case resp.Code == "InvalidPart" || resp.Code == "InvalidPartOrder" || resp.Code == "EntityTooSmall":
			return fmt.Errorf("%s: %w (%s): %w", where, blobstore.ErrInvalidPart, detail, err)
		}
	}
	return s.classify(op, key, err)
}

// malformedUploadID reports whether an upload id looks like a path, which
// no server issues.
func malformedUploadID(id string) bool {
	return strings.Contains(id, "/") || strings.Contains(id, "..")
}

// contentType is what every blob is stored as.
const contentType = "application/octet-stream"

// userMetadata turns blob metadata into minio-go's PutObjectOptions
// form. With the prefix spelled out, minio-go sends every key as user
// metadata, even ones like "content-type" that it would otherwise turn
// into standard headers.
func userMetadata(md map[string]string) map[string]string {
	um := make(map[string]string, len(md))
	for k, v := range md {
		um["x-amz-meta-"+k] = v
	}
	return um
}

// trimETag removes the quotes that S3 puts around ETags in some answers
// and not in others.
func trimETag(etag string) string { return strings.Trim(etag, `"`) }
