package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/posix"
	"github.com/s3dfs/s3dfs/blobstore/s3"
	"github.com/s3dfs/s3dfs/metadata/mpk"
	"github.com/s3dfs/s3dfs/storeid"
)

// Opening a store: the root must hold a store (s3dfs init made it), and the
// blob store given must be the one its identity names (package storeid),
// checked before anything is read or changed. Only init, and serve --init,
// create; they alone may create a bucket.

// openMode says whether openStores may create the store.
type openMode int

const (
	mustExist   openMode = iota
	createIfNew          // serve --init: create a missing or empty store, open an existing one
)

// openStores verifies the store at the configured root against the blob
// store given and opens both.
func openStores(ctx context.Context, st settings, log *slog.Logger, mode openMode) (*mpk.Backend, blobstore.Store, error) {
	root := st.meta.Root
	state, id, err := storeid.Inspect(root)
	if err != nil {
		return nil, nil, err
	}
	switch state {
	case storeid.Missing, storeid.Empty:
		if mode == createIfNew {
			meta, blobs, id, err := createStore(ctx, st)
			if err == nil {
				log.Info("created a store", "root", root, "id", id.ID, "blobstore", id.BlobStore.String())
			}
			return meta, blobs, err
		}
		return nil, nil, noStoreError(root)
	case storeid.Legacy:
		return nil, nil, fmt.Errorf("the store at %s does not record its blob store yet (made by an earlier s3dfs): record it once with 's3dfs init --adopt --root %s' and the blob store flags", root, root)
	case storeid.Foreign:
		return nil, nil, fmt.Errorf("%s is not an s3dfs store (it holds other files; 's3dfs init' creates a store in a missing or empty directory)", root)
	}
	if err := storeid.Compare(root, id, st.desc); err != nil {
		return nil, nil, err
	}
	blobs, err := openBlobs(ctx, st, false)
	if err != nil {
		if st.desc != id.BlobStore {
			err = fmt.Errorf("%w; the store at %s (id %s) keeps its blobs in %s", err, root, id.Short(), id.BlobStore)
		}
		return nil, nil, err
	}
	note, err := storeid.Verify(ctx, root, id, st.desc, blobs)
	if err != nil {
		return nil, nil, err
	}
	if note != "" {
		log.Info(note, "root", root)
	}
	meta, err := mpk.New(st.meta)
	if err != nil {
		return nil, nil, fmt.Errorf("open metadata at %s: %w", root, err)
	}
	return meta, blobs, nil
}

func noStoreError(root string) error {
	return fmt.Errorf("no s3dfs store at %s: create one with 's3dfs init --root %s' and the blob store flags (or 's3dfs serve --init')", root, root)
}

// openBlobs opens the blob store of st; create lets it create a missing
// bucket (if --s3-create-bucket allows) or directory.
func openBlobs(ctx context.Context, st settings, create bool) (blobstore.Store, error) {
	if st.useS3 {
		o := st.s3
		o.CreateBucket = create && o.CreateBucket
		blobs, err := s3.New(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", st.desc, err)
		}
		return blobs, nil
	}
	if !create {
		// The layout of blobstore/posix: blobs live in <dir>/blobs.
		if fi, err := os.Stat(filepath.Join(st.posixAt, "blobs")); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("open %s: %s holds no blob store", st.desc, st.posixAt)
		}
	}
	blobs, err := posix.New(st.posixAt, st.posix)
	if err != nil {
		return nil, fmt.Errorf("open blob directory %s: %w", st.posixAt, err)
	}
	return blobs, nil
}

// createStore makes a new store at the root: the blob store (a bucket
// only if --s3-create-bucket), its identity, the metadata layout.
func createStore(ctx context.Context, st settings) (*mpk.Backend, blobstore.Store, *storeid.Identity, error) {
	root := st.meta.Root
	id, blobs, err := storeid.Create(ctx, root, st.desc, func() (blobstore.Store, error) { return openBlobs(ctx, st, true) })
	if err != nil {
		return nil, nil, nil, err
	}
	meta, err := mpk.New(st.meta)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("create metadata at %s: %w", root, err)
	}
	return meta, blobs, id, nil
}
