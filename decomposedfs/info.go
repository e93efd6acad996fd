package decomposedfs

import (
	"time"

	"github.com/s3dfs/s3dfs/lookup"
	"github.com/s3dfs/s3dfs/metadata"
)

// ResourceInfo describes a file or folder to a gateway.
type ResourceInfo struct {
	ID       string
	ParentID string // empty for a space root
	SpaceID  string
	Name     string // empty for a space root
	// Path is the path within the space, "/" for its root.
	Path string
	Type metadata.NodeType
	// Size is a file's length, a folder's tree size (all files below).
	Size int64
	// Mtime is a file's content mtime; for a folder, the later of its own
	// mtime and the last change below it.
	Mtime time.Time
	// Btime is when the node was created (zero if unknown).
	Btime time.Time
	// Etag is quoted, as HTTP wants it: "\"0123abcd\"".
	Etag      string
	Checksums Checksums
	MimeType  string
	// Props are the dead properties (see SetProps). Shared: do not modify.
	Props map[string]string
	// Permissions are what the requesting user may do to the resource.
	Permissions Permissions
}

// IsDir reports whether the resource is a folder.
func (ri *ResourceInfo) IsDir() bool { return ri.Type == metadata.TypeDir }

// Checksums of a file's content, lower-case hex; empty when unknown.
type Checksums struct {
	SHA1    string
	MD5     string
	Adler32 string
}

func info(n *metadata.Node, path string) *ResourceInfo {
	ri := &ResourceInfo{
		ID:          n.ID,
		ParentID:    n.ParentID,
		SpaceID:     n.SpaceID,
		Name:        n.Name,
		Path:        path,
		Type:        n.Type,
		Size:        n.TreeSize(),
		Mtime:       time.Unix(0, n.Mtime),
		Btime:       btime(n.Btime),
		Etag:        n.Etag(),
		MimeType:    n.MimeType,
		Props:       n.Props,
		Permissions: PermAll,
	}
	if n.Type == metadata.TypeDir {
		ri.Mtime = time.Unix(0, max(n.Mtime, n.Tree.Mtime))
		ri.MimeType = "httpd/unix-directory"
	}
	ri.Checksums.SHA1, ri.Checksums.MD5, ri.Checksums.Adler32 = n.ChecksumsHex()
	return ri
}

func childInfo(n *metadata.Node, parentPath string) *ResourceInfo {
	return info(n, lookup.Join(parentPath, n.Name))
}

func btime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// Node and space types, so that callers need not import metadata.
const (
	TypeFile = metadata.TypeFile
	TypeDir  = metadata.TypeDir

	SpacePersonal = metadata.SpacePersonal
	SpaceProject  = metadata.SpaceProject
)

// FileID is the node's ownCloud file id: space and node, which together
// find a node without a path.
func (ri *ResourceInfo) FileID() string { return ri.SpaceID + "!" + ri.ID }
