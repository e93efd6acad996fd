package storeid

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
)

// FileName is the identity's file in the root.
const FileName = "store.json"

// Format is the version of the identity and marker formats.
const Format = 1

// Kinds of blob store.
const (
	KindS3    = "s3"
	KindPosix = "posix"
)

// Errors of Inspect and Read. Each comes wrapped with the root it is about.
var (
	// ErrNoStore: the root does not exist, or holds nothing of a store.
	ErrNoStore = errors.New("no s3dfs store")
	// ErrNoIdentity: the root holds a store made before stores recorded
	// their blob store; Adopt records it.
	ErrNoIdentity = errors.New("the store has no blob store identity")
	// ErrNotStore: the root is a directory with other files in it.
	ErrNotStore = errors.New("not an s3dfs store")
	// ErrExist: Create found a store there already.
	ErrExist = errors.New("a store exists already")
	// ErrCorrupt: the identity file cannot be read as one.
	ErrCorrupt = errors.New("unreadable store identity")
)

// BlobStore describes a blob store: enough to tell two apart and to name
// them in messages, no credentials.
type BlobStore struct {
	Kind string `json:"kind"` // KindS3 or KindPosix
	// Endpoint is the S3 server as host:port.
	Endpoint string `json:"endpoint,omitempty"`
	Bucket   string `json:"bucket,omitempty"`
	// Prefix is the key prefix inside the bucket, if any.
	Prefix string `json:"prefix,omitempty"`
	// Dir is a posix blob directory: relative to the root when it lies
	// inside it (so that a copy of the root takes it along), else
	// absolute.
	Dir string `json:"dir,omitempty"`
}

// String names the blob store for people: `s3 bucket "b" at host:9000`.
func (b BlobStore) String() string {
	switch b.Kind {
	case KindS3:
		s := fmt.Sprintf("s3 bucket %q", b.Bucket)
		if b.Prefix != "" {
			s += fmt.Sprintf(" (prefix %q)", b.Prefix)
		}
		return s + " at " + b.Endpoint
	case KindPosix:
		if filepath.IsAbs(b.Dir) {
			return fmt.Sprintf("posix directory %s", b.Dir)
		}
		return fmt.Sprintf("posix directory %s (in the root)", b.Dir)
	}
	return fmt.Sprintf("%s blob store", b.Kind)
}

// PosixDir describes a posix blob directory of the store at root: relative
// when it lies inside the root.
func PosixDir(root, dir string) BlobStore {
	absRoot, err1 := filepath.Abs(root)
	absDir, err2 := filepath.Abs(dir)
	if err1 == nil && err2 == nil {
		if rel, err := filepath.Rel(absRoot, absDir); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			return BlobStore{Kind: KindPosix, Dir: rel}
		}
		dir = absDir
	}
	return BlobStore{Kind: KindPosix, Dir: dir}
}

// Identity is what the root records about its store.
type Identity struct {
	Format    int       `json:"format"`
	ID        string    `json:"id"`
	Created   time.Time `json:"created"`
	BlobStore BlobStore `json:"blobstore"`
}

// Short is the first 8 characters of the id, for messages.
func (id *Identity) Short() string { return id.ID[:min(8, len(id.ID))] }

func (id *Identity) validate() error {
	switch {
	case id.Format != Format:
		return fmt.Errorf("format %d, this s3dfs reads %d", id.Format, Format)
	case uuid.Validate(id.ID) != nil:
		return fmt.Errorf("id %q is not a UUID", id.ID)
	case id.BlobStore.Kind != KindS3 && id.BlobStore.Kind != KindPosix:
		return fmt.Errorf("blob store kind %q", id.BlobStore.Kind)
	case id.BlobStore.Kind == KindS3 && id.BlobStore.Bucket == "":
		return errors.New("s3 blob store without a bucket")
	}
	return nil
}

// State is what Inspect found at a root.
type State int

const (
	// Missing: the root does not exist.
	Missing State = iota
	// Empty: a directory without a store (at most a users file or an
	// ext4 lost+found in it).
	Empty
	// Legacy: a store made before stores recorded their blob store.
	Legacy
	// Foreign: a directory with other things in it.
	Foreign
	// Present: a store with its identity.
	Present
)

// ignorable are entries an empty root may hold: the users file (written by
// 's3dfs user'), a filesystem's lost+found.
var ignorable = map[string]bool{"users.json": true, "users.json.lock": true, "lost+found": true}

// Inspect says what root holds, and reads the identity if it is Present.
func Inspect(root string) (State, *Identity, error) {
	ents, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return Missing, nil, nil
	}
	if err != nil {
		return Missing, nil, fmt.Errorf("store at %s: %w", root, err)
	}
	state := Empty
	for _, e := range ents {
		switch {
		case e.Name() == FileName:
			id, err := Read(root)
			return Present, id, err
		case e.Name() == "spaces" && e.IsDir():
			state = Legacy
		case ignorable[e.Name()]:
		case state == Empty:
			state = Foreign
		}
	}
	return state, nil, nil
}

// Read reads the identity of the store at root.
func Read(root string) (*Identity, error) {
	b, err := os.ReadFile(filepath.Join(root, FileName))
	if err != nil {
		return nil, fmt.Errorf("store at %s: %w", root, err)
	}
	id := new(Identity)
	if err := json.Unmarshal(b, id); err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrCorrupt, filepath.Join(root, FileName), err)
	}
	if err := id.validate(); err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrCorrupt, filepath.Join(root, FileName), err)
	}
	return id, nil
}

// write replaces the identity file of root atomically and durably.
func write(root string, id *Identity) error {
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(root, FileName)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("storeid: write %s: %w", path, err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("storeid: write %s: %w", path, err)
	}
	if d, err := os.Open(root); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
