package check

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/s3dfs/s3dfs/metadata"
)

// What the checker keeps below the root of the node store:
//
//	<root>/check/
//	  lock                            the run lock (flock), never unlinked
//	  last-summary.json               the summary of the last check, for monitoring
//	  last-repair.json                the summary of the last repair
//	  runs/<run>/report.ndjson        the findings a repair run acted on
//	  runs/<run>/repairs.ndjson       what it did about each
//	  runs/<run>/manifest.ndjson      everything it took out of the store, for undo
//	  runs/<run>/quarantine/<path>    metadata files it took out, at their paths below the root
//	  runs/<run>/purged               present once purge-quarantine deleted the run's quarantine
//
// Blobs a repair quarantines move to <quarantine prefix><run>/<key> in the
// blob store. Run ids sort by time: 20261125T161341Z-1a2b3c.

const checkDirName = "check"

// DefaultQuarantinePrefix is where quarantined blobs go in the blob store.
// It does not start with two hex digits, so no listing of blobs (keys
// below space ids) ever includes it.
const DefaultQuarantinePrefix = "s3dfs-quarantine/"

// NewRunID returns a fresh run id for time t.
func NewRunID(t time.Time) string {
	var b [3]byte
	rand.Read(b[:])
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

var runIDPattern = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$`)

// ValidRunID reports whether s is a run id.
func ValidRunID(s string) bool { return runIDPattern.MatchString(s) }

// RunTime is the time a run id was made at.
func RunTime(id string) (time.Time, error) {
	if !ValidRunID(id) {
		return time.Time{}, fmt.Errorf("check: %q is not a run id", id)
	}
	return time.Parse("20060102T150405Z", id[:16])
}

// CheckDir is the checker's directory below a node store root.
func CheckDir(root string) string { return filepath.Join(root, checkDirName) }

// RunDir is the directory of a run.
func RunDir(root, run string) string { return filepath.Join(root, checkDirName, "runs", run) }

// ErrBusy: another repair, undo or purge holds the run lock.
var ErrBusy = errors.New("check: another repair is running (the run lock is taken)")

// LockRuns takes the run lock of the store at root, without waiting: only
// one repair, undo or purge at a time. Checks that only read need no lock.
func LockRuns(root string) (unlock func(), err error) {
	if err := os.MkdirAll(CheckDir(root), 0o755); err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(CheckDir(root), "lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("check: run lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if errors.Is(err, unix.EWOULDBLOCK) {
		f.Close()
		return nil, ErrBusy
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("check: run lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// writeJSONFile replaces path atomically with v as indented JSON.
func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// SaveJSON replaces the file at path atomically with v as indented JSON.
func SaveJSON(path string, v any) error { return writeJSONFile(path, v) }

// SaveLastSummary keeps s as the last check's summary.
func SaveLastSummary(root string, s *Summary) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return writeJSONFile(filepath.Join(CheckDir(root), "last-summary.json"), s)
}

// LastSummary reads the last check's summary.
func LastSummary(root string) (*Summary, error) {
	b, err := os.ReadFile(filepath.Join(CheckDir(root), "last-summary.json"))
	if err != nil {
		return nil, err
	}
	s := new(Summary)
	return s, json.Unmarshal(b, s)
}

// ManifestEntry is one thing a repair took out of the store or out of its
// place, written before the repair does it.
type ManifestEntry struct {
	// Op is one of the Op* constants.
	Op   string    `json:"op"`
	Code Code      `json:"code,omitempty"`
	From string    `json:"from"` // a path relative to the root, a blob key, or (relink) the node's old path
	To   string    `json:"to"`   // where it is now
	Size int64     `json:"size,omitempty"`
	Time time.Time `json:"time"`

	// Space and Node name the node of a relink, content or made entry.
	Space string `json:"space,omitempty"`
	Node  string `json:"node,omitempty"`
	// Old is what a relink or content entry changed: the node's place
	// before (and whether a folder entry linked it there), its trash
	// mark, or its content.
	Old *NodeState `json:"old,omitempty"`
	// New is the folder entry a relink linked the node as, or a made
	// folder's.
	New *Link `json:"new,omitempty"`
	// OldDir is the path of the folder a relink took the node from, where
	// Old has no folder id (the entries undo derives from the repairs of
	// older runs).
	OldDir string `json:"old_dir,omitempty"`
}

// Manifest operations.
const (
	OpFile    = "file"    // a metadata file or directory moved to the run's quarantine
	OpBlob    = "blob"    // a blob moved under the quarantine prefix
	OpSaved   = "saved"   // a copy of a record the repair replaced (kept, not undone)
	OpRelink  = "relink"  // a node linked into lost+found (Old: where it was)
	OpContent = "content" // a file's content taken from its record (Old: its blob)
	OpMade    = "made"    // a folder the repair created (lost+found/<run>)
)

// NodeState is what a repair changed of a node, for undo.
type NodeState struct {
	Parent string `json:"parent,omitempty"`
	Name   string `json:"name,omitempty"`
	// Linked: the node had a folder entry at Parent/Name (else nothing
	// linked it: its record named Parent and Name).
	Linked  bool               `json:"linked,omitempty"`
	Trashed int64              `json:"trashed,omitempty"`
	BlobID  string             `json:"blob_id,omitempty"`
	Size    int64              `json:"size,omitempty"`
	Sums    metadata.Checksums `json:"checksums,omitzero"`
}

// manifest appends entries to a run's manifest, each flushed to disk
// before the action it describes, so that undo knows of everything a
// crashed repair may have done.
type manifest struct {
	mu sync.Mutex // guards f
	f  *os.File
}

func openManifest(dir string) (*manifest, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "manifest.ndjson"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &manifest{f: f}, nil
}

func (m *manifest) add(e ManifestEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("check: manifest: %w", err)
	}
	if err := m.f.Sync(); err != nil {
		return fmt.Errorf("check: manifest: %w", err)
	}
	return nil
}

func (m *manifest) close() error { return m.f.Close() }

// ReadManifest returns a run's manifest entries in the order they were
// written.
func ReadManifest(root, run string) ([]ManifestEntry, error) {
	b, err := os.ReadFile(filepath.Join(RunDir(root, run), "manifest.ndjson"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []ManifestEntry
	for i, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var e ManifestEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			// A torn last line of a crashed repair: its action never
			// happened (the line is written before the action).
			if i == len(strings.Split(string(b), "\n"))-1 {
				break
			}
			return out, fmt.Errorf("check: manifest line %d: %w", i+1, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// ListRuns returns the ids of the runs kept below root, oldest first.
func ListRuns(root string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(CheckDir(root), "runs"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && ValidRunID(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	slices.Sort(ids)
	return ids, nil
}
