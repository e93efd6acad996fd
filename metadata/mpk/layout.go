package mpk

import (
	"path/filepath"
)

// Names inside the root and inside a space directory (see doc.go).
const (
	spacesDir   = "spaces"
	lockFile    = "locks"
	spaceRecord = "space.mpk"
	nsFile      = "ns"
	// The record sets of a space (sets.go).
	locksDir        = "locks"
	reservationsDir = "reservations"
	nodesDir        = "nodes"
	trashDir        = "trash"
	recordExt       = ".mpk"
	tmpSuffix       = ".tmp"
	treeXattr       = "user.s3dfs.tree"
)

// All paths are pure functions of validated ids: 36-byte UUIDs, so no id can
// make a path escape the root.

func (b *Backend) spacesPath() string { return filepath.Join(b.root, spacesDir) }

func (b *Backend) spacePath(sid string) string {
	return b.root + "/" + spacesDir + "/" + sid[:2] + "/" + sid
}

// inSpace reports whether path, built by spacePath or below, lies in space
// sid. It does not allocate: it checks entries of caches keyed by node id
// alone on their hot path.
func (b *Backend) inSpace(path, sid string) bool {
	i := len(b.root) + len("/"+spacesDir+"/") + 3 // past "<root>/spaces/xx/"
	return len(path) >= i+len(sid) && path[i:i+len(sid)] == sid
}

func (b *Backend) shardPath(sid, id string) string {
	return b.spacePath(sid) + "/" + nodesDir + "/" + id[:2]
}

func (b *Backend) recordPath(sid, id string) string {
	return b.shardPath(sid, id) + "/" + id + recordExt
}

// dirPath is the directory of a folder node: its entries are the links to
// its children.
func (b *Backend) dirPath(sid, id string) string {
	return b.shardPath(sid, id) + "/" + id
}

func (b *Backend) trashPath(sid, id string) string {
	return b.spacePath(sid) + "/" + trashDir + "/" + id
}
