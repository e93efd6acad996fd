package posix

import (
	"context"
	"crypto/md5" //nolint:gosec // a part's ETag by the S3 convention, not a security measure
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"

	"github.com/pkg/xattr"

	"github.com/s3dfs/s3dfs/blobstore"
)

var _ blobstore.Multiparter = (*Store)(nil)

const (
	uploadsDir = ".uploads"
	// manifestName is the file in an upload's directory that says which
	// key the upload becomes and with which metadata.
	manifestName = "upload.json"
	// etagAttr holds a part's ETag (hex MD5 of its bytes).
	etagAttr = "user.s3dfs.etag"
	// uploadIDLen is the length of an upload id: 128 random bits in hex.
	uploadIDLen = 32
)

// manifest is the content of an upload's manifest file.
type manifest struct {
	Version  int               `json:"v"`
	Key      string            `json:"key"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

const manifestVersion = 1

// MinPartSize implements blobstore.Multiparter. Parts are concatenated
// with copy_file_range, which has no use for a minimum, so any part but
// the last needs just one byte.
func (s *Store) MinPartSize() int64 { return 1 }

// CreateMultipart implements blobstore.Multiparter: a new directory
// .uploads/<id> with the manifest in it. The manifest is written as a temp
// file and renamed in, so an upload directory that has a manifest has a
// whole one.
func (s *Store) CreateMultipart(ctx context.Context, key string, opts blobstore.PutOptions) (string, error) {
	if _, err := s.path(key); err != nil {
		return "", err
	}
	if err := blobstore.ValidateMetadata(opts.Metadata); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("posix: create upload %s: %w", key, err)
	}
	fail := func(err error) (string, error) { return "", fmt.Errorf("posix: create upload %s: %w", key, err) }

	var idBytes [uploadIDLen / 2]byte
	if _, err := rand.Read(idBytes[:]); err != nil {
		return fail(err)
	}
	id := hex.EncodeToString(idBytes[:])
	raw, err := json.Marshal(manifest{Version: manifestVersion, Key: key, Metadata: opts.Metadata})
	if err != nil {
		return fail(err)
	}

	f, err := os.CreateTemp(s.tmp, "upload-*")
	if err != nil {
		return fail(err)
	}
	defer func() {
		f.Close()
		os.Remove(f.Name()) // fails harmlessly once renamed
	}()
	if _, err := f.Write(raw); err != nil {
		return fail(err)
	}
	if err := f.Chmod(s.opts.FileMode); err != nil {
		return fail(err)
	}
	if s.opts.Fsync {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
	}
	dir := s.uploadDir(id)
	if err := os.Mkdir(dir, s.opts.DirMode); err != nil {
		return fail(err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, manifestName)); err != nil {
		os.Remove(dir)
		return fail(err)
	}
	if err := s.syncDirs([]string{dir, s.uploads}); err != nil {
		return "", err
	}
	return id, nil
}

func (s *Store) uploadDir(id string) string { return filepath.Join(s.uploads, id) }

// loadUpload returns the directory and manifest of upload id, or
// ErrNotFound if there is no such upload for key. Ids are checked for
// their form first, so that no id can name a path outside .uploads/.
func (s *Store) loadUpload(op, key, id string) (string, manifest, error) {
	notFound := func(why string) (string, manifest, error) {
		return "", manifest{}, fmt.Errorf("posix: %s %s: upload %q %s: %w", op, key, id, why, blobstore.ErrNotFound)
	}
	if !validUploadID(id) {
		return notFound("is not an upload id of this store")
	}
	dir := s.uploadDir(id)
	raw, err := os.ReadFile(filepath.Join(dir, manifestName))
	if missing(err) {
		return notFound("does not exist")
	}
	if err != nil {
		return "", manifest{}, fmt.Errorf("posix: %s %s: upload %s: %w", op, key, id, err)
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", manifest{}, fmt.Errorf("posix: %s %s: upload %s: corrupt %s: %w", op, key, id, manifestName, err)
	}
	if m.Key != key {
		return notFound("belongs to another key")
	}
	return dir, m, nil
}

func validUploadID(id string) bool {
	if len(id) != uploadIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// UploadPart implements blobstore.Multiparter. The part is written to a
// temp file in .tmp/, hashed on the way for its ETag (kept in an xattr of
// the part file), and renamed to .uploads/<id>/<n>, replacing an earlier
// upload of that number in one step.
func (s *Store) UploadPart(ctx context.Context, key, uploadID string, n int, r io.Reader, size int64) (blobstore.Part, error) {
	if _, err := s.path(key); err != nil {
		return blobstore.Part{}, err
	}
	if err := blobstore.ValidatePartNumber(n); err != nil {
		return blobstore.Part{}, fmt.Errorf("posix: upload part of %s: %w", key, err)
	}
	fail := func(err error) (blobstore.Part, error) {
		return blobstore.Part{}, fmt.Errorf("posix: upload part %d of %s: %w", n, key, err)
	}
	if size < 0 {
		return fail(fmt.Errorf("size %d: a part's size must be known", size))
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	dir, _, err := s.loadUpload("upload part "+strconv.Itoa(n)+" of", key, uploadID)
	if err != nil {
		return blobstore.Part{}, err
	}

	f, err := os.CreateTemp(s.tmp, "part-*")
	if err != nil {
		return fail(err)
	}
	defer func() {
		f.Close()
		os.Remove(f.Name()) // fails harmlessly once renamed
	}()
	h := md5.New() //nolint:gosec // see the import
	got, err := copyBody(ctx, io.MultiWriter(f, h), r, size)
	if err != nil {
		return fail(err)
	}
	if got != size {
		return fail(fmt.Errorf("%w: body has %s, declared %d bytes", blobstore.ErrSizeMismatch, describeLen(got, size), size))
	}
	etag := hex.EncodeToString(h.Sum(nil))
	if err := xattr.FSet(f, etagAttr, []byte(etag)); err != nil {
		return fail(err)
	}
	if err := f.Chmod(s.opts.FileMode); err != nil {
		return fail(err)
	}
	if s.opts.Fsync {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	err = os.Rename(f.Name(), filepath.Join(dir, strconv.Itoa(n)))
	if missing(err) {
		return fail(fmt.Errorf("upload %s was completed or aborted meanwhile: %w", uploadID, blobstore.ErrNotFound))
	}
	if err != nil {
		return fail(err)
	}
	if err := s.syncDirs([]string{dir}); err != nil {
		return blobstore.Part{}, err
	}
	return blobstore.Part{Number: n, Size: size, ETag: etag}, nil
}

// ListParts implements blobstore.Multiparter.
func (s *Store) ListParts(ctx context.Context, key, uploadID string) ([]blobstore.Part, error) {
	if _, err := s.path(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("posix: list parts of %s: %w", key, err)
	}
	dir, _, err := s.loadUpload("list parts of", key, uploadID)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if missing(err) {
		return nil, fmt.Errorf("posix: list parts of %s: upload %s was completed or aborted meanwhile: %w", key, uploadID, blobstore.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("posix: list parts of %s: %w", key, err)
	}
	parts := []blobstore.Part{}
	for _, e := range entries {
		n, ok := partNumber(e.Name())
		if !ok {
			continue // the manifest
		}
		f, p, err := openPart(dir, n)
		if missing(err) {
			continue // the upload went away meanwhile; an empty list is as good as any
		}
		if err != nil {
			return nil, fmt.Errorf("posix: list parts of %s: %w", key, err)
		}
		f.Close()
		parts = append(parts, p)
	}
	slices.SortFunc(parts, func(a, b blobstore.Part) int { return a.Number - b.Number })
	return parts, nil
}

// partNumber parses the name of a part file: a number in [1, MaxParts]
// without leading zeros.
func partNumber(name string) (int, bool) {
	n, err := strconv.Atoi(name)
	if err != nil || blobstore.ValidatePartNumber(n) != nil || strconv.Itoa(n) != name {
		return 0, false
	}
	return n, true
}

// openPart opens part n in dir and describes it. Size and ETag come from
// the open file, so they belong to the bytes read from it even if the
// part is uploaded again meanwhile.
func openPart(dir string, n int) (*os.File, blobstore.Part, error) {
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(n)), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, blobstore.Part{}, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("part %d is not a regular file", n)
	}
	var etag []byte
	if err == nil {
		etag, err = xattr.FGet(f, etagAttr)
	}
	if err != nil {
		f.Close()
		return nil, blobstore.Part{}, fmt.Errorf("part %d: %w", n, err)
	}
	return f, blobstore.Part{Number: n, Size: fi.Size(), ETag: string(etag)}, nil
}

// CompleteMultipart implements blobstore.Multiparter. The parts are
// concatenated into a temp file with copy_file_range(2), one open part at
// a time and checked against the caller's list on the open file, and the
// result is published like a Put. Then the upload directory is renamed into
// .tmp/ (from that moment the upload id is unknown) and removed.
//
// The parts stay in place until the blob is published, so a crash or an
// error before that leaves the upload whole for another try.
func (s *Store) CompleteMultipart(ctx context.Context, key, uploadID string, parts []blobstore.Part) (blobstore.Info, error) {
	p, err := s.path(key)
	if err != nil {
		return blobstore.Info{}, err
	}
	fail := func(err error) (blobstore.Info, error) {
		return blobstore.Info{}, fmt.Errorf("posix: complete %s: %w", key, err)
	}
	if err := blobstore.ValidateParts(parts, s.MinPartSize()); err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	dir, m, err := s.loadUpload("complete", key, uploadID)
	if err != nil {
		return blobstore.Info{}, err
	}

	f, err := os.CreateTemp(s.tmp, "complete-*")
	if err != nil {
		return fail(err)
	}
	published := false
	defer func() {
		f.Close()
		if !published {
			os.Remove(f.Name())
		}
	}()
	var size int64
	for _, want := range parts {
		if err := s.appendPart(ctx, f, size, dir, want); err != nil {
			if missing(err) {
				if _, _, lerr := s.loadUpload("complete", key, uploadID); lerr != nil {
					return blobstore.Info{}, lerr // aborted or completed meanwhile
				}
				return fail(fmt.Errorf("%w: part %d is not stored", blobstore.ErrInvalidPart, want.Number))
			}
			return fail(err)
		}
		size += want.Size
	}
	fi, err := s.seal(ctx, "complete", f, p, key, m.Metadata)
	if err != nil {
		return blobstore.Info{}, err
	}
	published = true
	if err := s.discardUpload(dir, uploadID); err != nil {
		// The blob is in place, but the upload is still there too, so the
		// caller may repeat the call, which would succeed.
		return fail(fmt.Errorf("blob stored, but removing upload %s failed: %w", uploadID, err))
	}
	return blobstore.Info{Key: key, Size: size, ModTime: fi.ModTime()}, nil
}

// appendPart checks part want.Number in dir against want and copies it to
// f at offset off.
func (s *Store) appendPart(ctx context.Context, f *os.File, off int64, dir string, want blobstore.Part) error {
	in, got, err := openPart(dir, want.Number)
	if err != nil {
		return err
	}
	defer in.Close()
	if got != want {
		return fmt.Errorf("%w: part %d is stored with %d bytes and ETag %q, the list says %d bytes and ETag %q",
			blobstore.ErrInvalidPart, want.Number, got.Size, got.ETag, want.Size, want.ETag)
	}
	return copyRange(ctx, f, off, in, got.Size)
}

// AbortMultipart implements blobstore.Multiparter.
func (s *Store) AbortMultipart(ctx context.Context, key, uploadID string) error {
	if _, err := s.path(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("posix: abort upload of %s: %w", key, err)
	}
	dir, _, err := s.loadUpload("abort upload of", key, uploadID)
	if errors.Is(err, blobstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.discardUpload(dir, uploadID); err != nil {
		return fmt.Errorf("posix: abort upload of %s: %w", key, err)
	}
	return nil
}

// discardUpload ends upload id in one rename(2), out of .uploads/ into
// .tmp/: a concurrent UploadPart can then no longer rename a part into it
// (it gets ErrNotFound), and nothing can find the upload by its id. The
// directory is removed after that; what a crash leaves of it, the sweep of
// .tmp/ in New removes. An upload that is gone already is no error.
func (s *Store) discardUpload(dir, id string) error {
	trash := filepath.Join(s.tmp, "gone-"+id)
	if err := os.Rename(dir, trash); err != nil {
		if missing(err) {
			return nil
		}
		return err
	}
	// A failure here leaves garbage only in .tmp/, which the sweep removes.
	_ = os.RemoveAll(trash)
	return nil
}
