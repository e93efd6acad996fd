package storeid

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/s3dfs/s3dfs/blobstore"
)

// MarkerKey is the key of the marker in the blob store.
const MarkerKey = "s3dfs-store.json"

// maxMarker bounds what is read of a marker.
const maxMarker = 64 << 10

// Marker is what the blob store holds about the store it belongs to.
type Marker struct {
	Format  int       `json:"format"`
	Store   string    `json:"store"` // the store's id
	Created time.Time `json:"created"`
	// Root and Host are where the store was created (or adopted), for
	// messages only.
	Root string `json:"root,omitempty"`
	Host string `json:"host,omitempty"`
}

func (m *Marker) where() string {
	switch {
	case m.Host != "" && m.Root != "":
		return fmt.Sprintf(", made at %s:%s", m.Host, m.Root)
	case m.Root != "":
		return ", made at " + m.Root
	}
	return ""
}

// ErrMismatch is in the chain of every MismatchError.
var ErrMismatch = errors.New("wrong blob store")

// MismatchError says that the blob store given is not the store's. Its
// message names both.
type MismatchError struct {
	Root  string
	Store *Identity // the root's identity
	Given BlobStore
	// Why the given one is not it, in words.
	Why string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("wrong blob store: %s %s; the store at %s (id %s) keeps its blobs in %s; nothing was read or changed",
		e.Given, e.Why, e.Root, e.Store.Short(), e.Store.BlobStore)
}

func (e *MismatchError) Is(target error) bool { return target == ErrMismatch }

// Compare checks what can be checked without the blob store: kind,
// bucket and prefix must be the ones recorded. (Endpoints and posix
// directories may differ: Verify's marker decides.)
func Compare(root string, id *Identity, given BlobStore) error {
	rec := id.BlobStore
	mismatch := func(why string) error { return &MismatchError{Root: root, Store: id, Given: given, Why: why} }
	switch {
	case given.Kind != rec.Kind && rec.Kind == KindS3:
		return mismatch("was given (are the S3 flags, or the S3DFS_S3_* variables, missing?)")
	case given.Kind != rec.Kind:
		return mismatch("was given")
	case given.Kind == KindS3 && (given.Bucket != rec.Bucket || given.Prefix != rec.Prefix):
		return mismatch("is not the store's bucket (if the bucket really moved, re-point the store with 's3dfs init --adopt')")
	}
	return nil
}

// Verify checks that blobs, opened from the description given, is the
// store's blob store: Compare, then its marker must name the store. It
// returns a note for the log when the blob store was reached at another
// endpoint or directory than the one recorded.
func Verify(ctx context.Context, root string, id *Identity, given BlobStore, blobs blobstore.Store) (note string, err error) {
	if err := Compare(root, id, given); err != nil {
		return "", err
	}
	m, err := ReadMarker(ctx, blobs)
	switch {
	case errors.Is(err, blobstore.ErrNotFound):
		return "", &MismatchError{Root: root, Store: id, Given: given,
			Why: "holds no marker of this store (" + MarkerKey + "): the wrong bucket, or one emptied behind the store's back"}
	case err != nil:
		return "", fmt.Errorf("read the store marker of %s: %w", given, err)
	case m.Store != id.ID:
		return "", &MismatchError{Root: root, Store: id, Given: given,
			Why: fmt.Sprintf("belongs to another store (id %s%s)", short(m.Store), m.where())}
	}
	if given.Endpoint != id.BlobStore.Endpoint || given.Dir != id.BlobStore.Dir {
		note = fmt.Sprintf("the blob store was recorded as %s and is reached as %s; its marker says it is the same", id.BlobStore, given)
	}
	return note, nil
}

// ReadMarker reads the marker of a blob store (blobstore.ErrNotFound if
// there is none).
func ReadMarker(ctx context.Context, blobs blobstore.Store) (*Marker, error) {
	rc, err := blobs.Open(ctx, MarkerKey, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxMarker))
	if err != nil {
		return nil, err
	}
	m := new(Marker)
	if err := json.Unmarshal(b, m); err != nil || m.Store == "" {
		return nil, fmt.Errorf("%w: the blob store's %s is not a store marker", ErrCorrupt, MarkerKey)
	}
	return m, nil
}

func writeMarker(ctx context.Context, blobs blobstore.Store, m *Marker) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = blobs.Put(ctx, MarkerKey, bytes.NewReader(b), int64(len(b)), blobstore.PutOptions{})
	if err != nil {
		return fmt.Errorf("storeid: write the marker: %w", err)
	}
	return nil
}

func short(id string) string { return id[:min(8, len(id))] }
