package storeid

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/decomposedfs/check"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/mpk"
)

// Create makes the identity of a new store at root, a missing or empty
// directory (created here), whose blobs go to the blob store that open
// opens (after root was found fit; open may create it), described by
// desc. It refuses a blob store that already has a marker, or blobs:
// another store's. The caller creates the rest of the store (mpk.New)
// afterwards.
func Create(ctx context.Context, root string, desc BlobStore, open func() (blobstore.Store, error)) (*Identity, blobstore.Store, error) {
	state, old, err := Inspect(root)
	if err != nil {
		return nil, nil, err
	}
	switch state {
	case Present:
		return nil, nil, fmt.Errorf("%w at %s (id %s, blobs in %s)", ErrExist, root, old.Short(), old.BlobStore)
	case Legacy:
		return nil, nil, fmt.Errorf("%w at %s: it holds a store made by an earlier s3dfs; record its blob store with 's3dfs init --adopt'", ErrExist, root)
	case Foreign:
		return nil, nil, fmt.Errorf("%w: %s holds other files; a store is created in a missing or empty directory", ErrNotStore, root)
	}
	blobs, err := open()
	if err != nil {
		return nil, nil, err
	}
	id, err := create(ctx, root, desc, blobs)
	return id, blobs, err
}

func create(ctx context.Context, root string, desc BlobStore, blobs blobstore.Store) (*Identity, error) {
	if m, err := ReadMarker(ctx, blobs); err == nil {
		return nil, fmt.Errorf("%s belongs to another store already (id %s%s); give the new store a blob store of its own", desc, short(m.Store), m.where())
	} else if !errors.Is(err, blobstore.ErrNotFound) {
		return nil, fmt.Errorf("read the store marker of %s: %w", desc, err)
	}
	if key, err := anyBlob(ctx, blobs); err != nil {
		return nil, fmt.Errorf("list %s: %w", desc, err)
	} else if key != "" {
		return nil, fmt.Errorf("%s holds blobs (%s) but no store marker: the blobs of a store made by an earlier s3dfs? Adopt that store ('s3dfs init --adopt' on its root), or give the new store an empty blob store", desc, key)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("storeid: create %s: %w", root, err)
	}
	id := &Identity{Format: Format, ID: uuid.NewString(), Created: time.Now().UTC(), BlobStore: desc}
	// The root first: a marker that no root knows could only be removed
	// by hand, a root without its marker is completed by Adopt.
	if err := write(root, id); err != nil {
		return nil, err
	}
	if err := writeMarker(ctx, blobs, newMarker(root, id)); err != nil {
		os.Remove(filepath.Join(root, FileName))
		return nil, err
	}
	return id, nil
}

func newMarker(root string, id *Identity) *Marker {
	host, _ := os.Hostname()
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	return &Marker{Format: Format, Store: id.ID, Created: time.Now().UTC(), Root: root, Host: host}
}

// anyBlob returns the key of one blob of some space in blobs (keys of
// spaces start with two hex digits), or "".
func anyBlob(ctx context.Context, blobs blobstore.Store) (string, error) {
	found := errors.New("found")
	key := ""
	for _, c := range "0123456789abcdef" {
		err := blobs.List(ctx, string(c), func(i blobstore.Info) error {
			if len(i.Key) >= 2 && strings.ContainsRune("0123456789abcdef", rune(i.Key[1])) {
				key = i.Key
				return found
			}
			return nil
		})
		if errors.Is(err, found) {
			return key, nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", nil
}

// AdoptOptions configure Adopt.
type AdoptOptions struct {
	// Sample is how many blobs the store references are looked for in a
	// blob store without a marker (0: DefaultSample).
	Sample int
	// Force adopts a blob store without a marker even if blobs of the
	// sample are missing from it (a bucket that lost blobs, for good).
	Force bool
}

// DefaultSample is the sample Adopt checks by default.
const DefaultSample = 32

// AdoptResult says what Adopt did.
type AdoptResult struct {
	Identity *Identity
	// Previous is the blob store recorded before, if any.
	Previous *BlobStore
	// Changed: the identity or the marker was written.
	Changed bool
	// ByMarker: the blob store proved itself by its marker; else Sampled
	// blobs were looked for, of which Missing were not found.
	ByMarker bool
	Sampled  int
	Missing  []string
}

// Adopt records desc as the blob store of the existing store at root
// (meta): a store made before identities (no store.json), or one whose
// blob store moved. The blob store must prove that it is the store's: by
// its marker, or, without one, by holding every blob of a sample of those
// the store references (unless opts.Force). A marker of another store is
// refused whatever the options.
func Adopt(ctx context.Context, root string, desc BlobStore, blobs blobstore.Store, meta *mpk.Backend, opts AdoptOptions) (*AdoptResult, error) {
	state, id, err := Inspect(root)
	if err != nil {
		return nil, err
	}
	switch state {
	case Missing, Empty:
		return nil, fmt.Errorf("%w at %s: nothing to adopt ('s3dfs init' creates a store)", ErrNoStore, root)
	case Foreign:
		return nil, fmt.Errorf("%w: %s holds other files", ErrNotStore, root)
	}
	res := &AdoptResult{}
	if id != nil {
		prev := id.BlobStore
		res.Previous = &prev
	}
	m, err := ReadMarker(ctx, blobs)
	switch {
	case err == nil && id != nil && m.Store == id.ID:
		res.ByMarker = true
	case err == nil:
		return nil, fmt.Errorf("%s belongs to another store (id %s%s), not to the store at %s", desc, short(m.Store), m.where(), root)
	case !errors.Is(err, blobstore.ErrNotFound):
		return nil, fmt.Errorf("read the store marker of %s: %w", desc, err)
	}
	if !res.ByMarker {
		n := opts.Sample
		if n <= 0 {
			n = DefaultSample
		}
		keys, err := SampleBlobKeys(ctx, meta, n)
		if err != nil {
			return nil, err
		}
		res.Sampled = len(keys)
		for _, k := range keys {
			if _, err := blobs.Stat(ctx, k); errors.Is(err, blobstore.ErrNotFound) {
				res.Missing = append(res.Missing, k)
			} else if err != nil {
				return nil, fmt.Errorf("look for %s in %s: %w", k, desc, err)
			}
		}
		if len(res.Missing) > 0 && !opts.Force {
			return res, fmt.Errorf("%d of %d blobs the store at %s references are not in %s (%s, ...): the wrong blob store? Nothing was changed (--force adopts it all the same)",
				len(res.Missing), len(keys), root, desc, res.Missing[0])
		}
	}
	if id == nil {
		id = &Identity{Format: Format, ID: uuid.NewString(), Created: time.Now().UTC()}
	}
	if res.ByMarker && id.BlobStore == desc {
		res.Identity = id
		return res, nil // nothing to change
	}
	id.BlobStore = desc
	if err := write(root, id); err != nil {
		return nil, err
	}
	if !res.ByMarker {
		if err := writeMarker(ctx, blobs, newMarker(root, id)); err != nil {
			return nil, err
		}
	}
	res.Identity, res.Changed = id, true
	return res, nil
}

// SampleBlobKeys returns the keys of up to n blobs that linked files of the
// store reference, spread over its spaces: their content, or the content a
// repair found missing and took from the record (check.PropMissingBlob).
func SampleBlobKeys(ctx context.Context, meta *mpk.Backend, n int) ([]string, error) {
	sids, err := meta.ListSpaceIDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("storeid: list spaces: %w", err)
	}
	if len(sids) == 0 {
		return nil, nil
	}
	per := max(4, (n+len(sids)-1)/len(sids))
	var keys []string
	enough := errors.New("enough")
	for _, sid := range sids {
		taken := 0
		err := meta.WalkNodes(ctx, sid, func(id string, nd *metadata.Node, err error) error {
			if len(keys) >= n {
				return enough
			}
			if taken >= per {
				return enough
			}
			if err != nil || nd == nil || nd.Type != metadata.TypeFile {
				return nil
			}
			bid := nd.BlobID
			if bid == "" {
				// A repair that found the blob missing (through the wrong
				// bucket, maybe) took it from the record and noted it.
				bid = nd.Props[check.PropMissingBlob]
			}
			if metadata.ValidateID(bid) != nil {
				return nil
			}
			// Linked files only: a prepared node's blob may still be on
			// its way.
			if l, err := meta.ReadEntry(sid, nd.ParentID, nd.Name); err != nil || l != id {
				return nil
			}
			keys = append(keys, decomposedfs.BlobKey(sid, bid))
			taken++
			return nil
		})
		if err != nil && !errors.Is(err, enough) {
			return nil, fmt.Errorf("storeid: sample the blobs of space %s: %w", sid, err)
		}
		if len(keys) >= n {
			break
		}
	}
	return keys, nil
}
