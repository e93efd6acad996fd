package mpk

// The raw view of the store, for the consistency checker (decomposedfs/check).
//
// The Backend's ordinary methods show the store as its users see it: a
// record that cannot be decoded is an error, a leftover temp file does not
// exist, a folder entry that is not a link is a listing problem. The checker
// needs to see everything that is on disk, named by what it is, so that it
// can tell a crash leftover from damage and repair either. These methods
// read the files directly, never through a cache and without locks (as the
// server's own reads do): every result carries the stamp of what it read, so
// that the checker can tell what changed while it looked.
//
// What a name in the store means (see doc.go for the layout):
//
//	nodes/<xx>/<id>.mpk              EntryRecord   (regular file)
//	nodes/<xx>/<id>/                 EntryFolder   (directory)
//	nodes/<xx>/.<id>.mpk.<r>.tmp     EntryTemp     (a record being replaced)
//	nodes/<xx>/.pending.<id>         EntryPending  (the link of a prepared node)
//	uploads/<id>.mpk                 EntryRecord
//	uploads/.<id>.mpk.<r>.tmp        EntryTemp
//	anything else                    EntryOther
//
// where <xx> is id[0:2]; a record in the wrong shard is EntryOther, since
// nothing could ever find it at its path.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/vmihailenco/msgpack/v5"
	"golang.org/x/sys/unix"
)

const pendingPrefix = ".pending."

// SpacePath is the directory of space sid.
func (b *Backend) SpacePath(sid string) string { return b.spacePath(sid) }

// RecordPath is the path of the record of node id in space sid.
func (b *Backend) RecordPath(sid, id string) string { return b.recordPath(sid, id) }

// FolderPath is the directory of folder id: its entries link to its children.
func (b *Backend) FolderPath(sid, id string) string { return b.dirPath(sid, id) }

// PendingPath is where PrepareNode keeps the link of prepared node id.
func (b *Backend) PendingPath(sid, id string) string {
	return b.shardPath(sid, id) + "/" + pendingPrefix + id
}

// TrashEntryPath is the trash entry of node id: it exists while the node is
// the top of a trashed subtree.
func (b *Backend) TrashEntryPath(sid, id string) string { return b.trashPath(sid, id) }

// UploadPath is the path of the record of upload id.
func (b *Backend) UploadPath(id string) string { return b.uploadPath(id) }

// EntryKind says what a name in a shard or upload directory is.
type EntryKind uint8

const (
	EntryOther   EntryKind = iota // none of the below: not the store's
	EntryRecord                   // <id>.mpk
	EntryFolder                   // <id>/, a folder's directory
	EntryTemp                     // .<id>.mpk.<random>.tmp
	EntryPending                  // .pending.<id>
)

func (k EntryKind) String() string {
	switch k {
	case EntryRecord:
		return "record"
	case EntryFolder:
		return "folder"
	case EntryTemp:
		return "temp"
	case EntryPending:
		return "pending"
	}
	return "other"
}

// ClassifyName tells what the entry name of type typ (the type bits of a
// directory entry) is, and the id it belongs to ("" for EntryOther).
func ClassifyName(name string, typ fs.FileMode) (EntryKind, string) {
	typ &= fs.ModeType
	if id, ok := strings.CutSuffix(name, recordExt); ok && metadata.ValidateID(id) == nil {
		if typ == 0 {
			return EntryRecord, id
		}
		return EntryOther, ""
	}
	if metadata.ValidateID(name) == nil {
		if typ == fs.ModeDir {
			return EntryFolder, name
		}
		return EntryOther, ""
	}
	if id, ok := strings.CutPrefix(name, pendingPrefix); ok && metadata.ValidateID(id) == nil {
		if typ == fs.ModeSymlink {
			return EntryPending, id
		}
		return EntryOther, ""
	}
	// .<id>.mpk.<random>.tmp, as replaceFile names them.
	if len(name) > 1+36+len(recordExt)+1+len(tmpSuffix) && name[0] == '.' && strings.HasSuffix(name, tmpSuffix) &&
		name[37:37+len(recordExt)+1] == recordExt+"." && metadata.ValidateID(name[1:37]) == nil && typ == 0 {
		return EntryTemp, name[1:37]
	}
	return EntryOther, ""
}

// ShardEntry is one name below a space's nodes directory.
type ShardEntry struct {
	// Shard is the shard directory ("3f"), or "" for a name directly in
	// the nodes directory (which holds nothing but shards).
	Shard string
	Name  string
	Kind  EntryKind
	ID    string      // the node the entry belongs to; "" for EntryOther
	Type  fs.FileMode // the entry's type bits (fs.ModeDir, fs.ModeSymlink, 0 for a file, ...)
}

// Rel is the entry's path relative to the space's nodes directory.
func (e ShardEntry) Rel() string {
	if e.Shard == "" {
		return e.Name
	}
	return e.Shard + "/" + e.Name
}

// scanBatch is how many directory entries are read at a time: memory stays
// bounded by it, not by the size of a directory.
const scanBatch = 1024

// ScanShards calls fn for every entry of every shard directory of space
// sid, shards in ascending order, the entries of one shard in the order the
// directory returns them (not sorted: a shard of a large space holds
// millions of names, and the checker sorts what it needs externally). It
// costs one getdents(2) per scanBatch names and nothing per entry.
func (b *Backend) ScanShards(ctx context.Context, sid string, fn func(ShardEntry) error) error {
	if err := validIDs(sid); err != nil {
		return err
	}
	nodes := b.spacePath(sid) + "/" + nodesDir
	top, err := os.ReadDir(nodes)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: space %s", metadata.ErrNotFound, sid)
	}
	if err != nil {
		return fmt.Errorf("mpk: scan: %w", err)
	}
	for _, sh := range top { // sorted by name
		name := sh.Name()
		if !sh.IsDir() || !isShard(name) {
			if err := fn(ShardEntry{Name: name, Type: sh.Type()}); err != nil {
				return err
			}
			continue
		}
		err := eachEntry(ctx, nodes+"/"+name, func(de fs.DirEntry) error {
			e := ShardEntry{Shard: name, Name: de.Name(), Type: de.Type()}
			e.Kind, e.ID = ClassifyName(e.Name, e.Type)
			if e.Kind != EntryOther && e.ID[:2] != name {
				e.Kind, e.ID = EntryOther, "" // in the wrong shard: unreachable
			}
			return fn(e)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func isShard(name string) bool {
	return len(name) == 2 && isHex(name[0]) && isHex(name[1])
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

// eachEntry calls fn for the entries of dir, scanBatch at a time.
func eachEntry(ctx context.Context, dir string, fn func(fs.DirEntry) error) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("mpk: scan: %w", err)
	}
	defer f.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		des, err := f.ReadDir(scanBatch)
		for _, de := range des {
			if err := fn(de); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("mpk: scan %s: %w", dir, err)
		}
	}
}

// RecordState says what reading a record found.
type RecordState uint8

const (
	RecordOK          RecordState = iota // decoded, valid, and names itself
	RecordMissing                        // no record file
	RecordUndecodable                    // not a msgpack record (empty, truncated, garbage)
	RecordInvalid                        // decodes, but breaks the format's rules (a required field missing or bad)
	RecordMisplaced                      // valid, but names another node or space than its path does
	RecordUnreadable                     // the volume failed (I/O error, permission)
)

func (s RecordState) String() string {
	return [...]string{"ok", "missing", "undecodable", "invalid", "misplaced", "unreadable"}[s]
}

// RawRecord is a record as it is on disk.
type RawRecord struct {
	State RecordState
	// Node is the record: set for RecordOK and RecordMisplaced, and for
	// RecordInvalid as far as it decoded (fields may be missing or bad).
	Node *metadata.Node
	// Err explains every state but RecordOK; it wraps metadata.ErrNotFound
	// or metadata.ErrCorrupt where those apply.
	Err error
	// Bytes is the size of the record file.
	Bytes int
	// Stamp is the record file's stamp, taken before it was read.
	Stamp cache.Stamp
	// Tree is a folder's tree attribute; TreeErr says why it could not be
	// read (then Tree is zero). A folder without the attribute has a zero
	// tree and no error.
	Tree    metadata.TreeStats
	TreeErr error
}

// ReadRaw reads the record of node id of space sid from disk, whatever
// state it is in. It never fails: what went wrong is in the result.
func (b *Backend) ReadRaw(sid, id string) RawRecord {
	return readRaw(b.recordPath(sid, id), sid, id)
}

func readRaw(path, sid, id string) RawRecord {
	fd, data, st, err := readFile(path)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return RawRecord{State: RecordMissing, Err: fmt.Errorf("%w: node %s", metadata.ErrNotFound, id)}
		case errors.Is(err, metadata.ErrCorrupt): // larger than any record
			return RawRecord{State: RecordUndecodable, Err: err}
		}
		return RawRecord{State: RecordUnreadable, Err: fmt.Errorf("mpk: %w", err)}
	}
	defer unix.Close(fd)
	r := RawRecord{Bytes: len(data), Stamp: st}
	n, err := metadata.DecodeNode(data)
	if err != nil {
		r.Err = fmt.Errorf("mpk: %s: %w", path, err)
		r.State = RecordUndecodable
		if p := decodeLoose(data); p != nil {
			r.State, r.Node = RecordInvalid, p
		}
		if r.Node != nil && r.Node.Type == metadata.TypeDir {
			r.Tree, r.TreeErr = getTree(fd)
		}
		return r
	}
	r.Node = n
	if n.Type == metadata.TypeDir {
		r.Tree, r.TreeErr = getTree(fd)
		n.Tree = r.Tree
	}
	n.Stamp = st
	if n.ID != id || n.SpaceID != sid {
		r.State = RecordMisplaced
		r.Err = fmt.Errorf("mpk: %s: %w: record names node %s of space %s", path, metadata.ErrCorrupt, n.ID, n.SpaceID)
		return r
	}
	return r
}

// decodeLoose decodes a record without the format's rules, to tell a record
// that is merely invalid (a field missing or wrong) from one that is not a
// record at all; nil if it does not decode.
func decodeLoose(data []byte) (n *metadata.Node) {
	if len(data) == 0 {
		return nil
	}
	defer func() {
		if recover() != nil {
			n = nil
		}
	}()
	n = new(metadata.Node)
	if err := msgpack.Unmarshal(data, n); err != nil {
		return nil
	}
	return n
}

// FolderEntry is one entry of a folder's directory.
type FolderEntry struct {
	Name string
	// Target is the child id the entry links to; "" if the entry is not a
	// link to a valid id, and then Err says what it is.
	Target string
	Type   fs.FileMode
	Err    error
}

// ReadFolder calls fn for every entry of folder id's directory, whatever
// it is, scanBatch entries at a time, in the order the directory returns
// them. It returns the directory's stamp, taken before the first entry was
// read; a missing directory gives an error wrapping fs.ErrNotExist, a
// record that is a file's gives one wrapping unix.ENOTDIR.
func (b *Backend) ReadFolder(ctx context.Context, sid, id string, fn func(FolderEntry) error) (cache.Stamp, error) {
	dir := b.dirPath(sid, id)
	f, err := os.Open(dir)
	if err != nil {
		return cache.Stamp{}, err
	}
	defer f.Close()
	dfd := int(f.Fd())
	var ust unix.Stat_t
	if err := unix.Fstat(dfd, &ust); err != nil {
		return cache.Stamp{}, &os.PathError{Op: "fstat", Path: dir, Err: err}
	}
	st := cache.StampOf(&ust)
	if ust.Mode&unix.S_IFMT != unix.S_IFDIR {
		return st, &os.PathError{Op: "open", Path: dir, Err: unix.ENOTDIR}
	}
	return st, readEntries(ctx, f, dfd, dir, "folder "+id, fn)
}

// readEntries calls fn for every entry of the open directory of links f
// (descriptor dfd, path dir; what names it in errors), scanBatch at a
// time. An entry removed between the directory read and its readlink is
// skipped.
func readEntries(ctx context.Context, f *os.File, dfd int, dir, what string, fn func(FolderEntry) error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		des, rerr := f.ReadDir(scanBatch)
		for _, de := range des {
			e := FolderEntry{Name: de.Name(), Type: de.Type()}
			if e.Type&fs.ModeType != fs.ModeSymlink {
				e.Err = fmt.Errorf("%w: %s/%s is not a link", metadata.ErrCorrupt, dir, e.Name)
			} else {
				e.Target, e.Err = readLinkAt(dfd, dir, e.Name)
				if errors.Is(e.Err, fs.ErrNotExist) {
					continue // removed since the directory was read
				}
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("mpk: read %s: %w", what, rerr)
		}
	}
}

// readLinkAt is readLink relative to an open directory: the kernel resolves
// one name instead of a whole path.
func readLinkAt(dfd int, dir, name string) (string, error) {
	var buf [64]byte
	n, err := unix.Readlinkat(dfd, name, buf[:])
	if err != nil {
		if errors.Is(err, unix.EINVAL) {
			return "", fmt.Errorf("%w: %s/%s is not a link", metadata.ErrCorrupt, dir, name)
		}
		return "", &os.PathError{Op: "readlink", Path: dir + "/" + name, Err: err}
	}
	id := string(buf[:n])
	if metadata.ValidateID(id) != nil {
		return "", fmt.Errorf("%w: link %s/%s names %q, not a node id", metadata.ErrCorrupt, dir, name, id)
	}
	return id, nil
}

// ReadEntry reads one entry of folder id's directory: the child id it links
// to. A missing entry gives an error wrapping fs.ErrNotExist; an entry
// that is not a link to an id, one wrapping metadata.ErrCorrupt.
func (b *Backend) ReadEntry(sid, folderID, name string) (string, error) {
	return readLink(b.dirPath(sid, folderID) + "/" + name)
}

// TrashEntry is one entry of a space's trash directory.
type TrashEntry struct {
	Name string
	// Target is the id the entry links to, "" if it is no link to an id
	// (then Err says what it is). A well-formed entry links to the id it
	// is named by.
	Target string
	Type   fs.FileMode
	Err    error
}

// ScanTrash calls fn for every entry of space sid's trash directory, in the
// order the directory returns them.
func (b *Backend) ScanTrash(ctx context.Context, sid string, fn func(TrashEntry) error) error {
	if err := validIDs(sid); err != nil {
		return err
	}
	dir := b.spacePath(sid) + "/" + trashDir
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // a space without a trash directory has nothing in the trash
	}
	if err != nil {
		return fmt.Errorf("mpk: scan trash: %w", err)
	}
	defer f.Close()
	return readEntries(ctx, f, int(f.Fd()), dir, "trash of space "+sid, func(e FolderEntry) error { return fn(TrashEntry(e)) })
}

// SpaceEntry is one name below the spaces directory.
type SpaceEntry struct {
	// Rel is the path relative to the spaces directory ("3f/<id>", or a
	// stray name).
	Rel  string
	Type fs.FileMode
	// ID is the space id, if the entry is a directory named by a valid id
	// in its shard; "" for a stray entry.
	ID string
	// Space is the space record, if it could be read; otherwise Err says
	// why (wrapping metadata.ErrNotFound if it is missing).
	Space *metadata.Space
	Err   error
	// RecordBytes is the size of the space record file (0 if missing).
	RecordBytes int
}

// ScanSpaces calls fn for everything below the spaces directory: every
// space directory, with its record or the reason it has none, and every
// stray name. Shards and spaces come in ascending order.
func (b *Backend) ScanSpaces(ctx context.Context, fn func(SpaceEntry) error) error {
	top, err := os.ReadDir(b.spacesPath())
	if err != nil {
		return fmt.Errorf("mpk: scan spaces: %w", err)
	}
	for _, sh := range top {
		if !sh.IsDir() || !isShard(sh.Name()) {
			if err := fn(SpaceEntry{Rel: sh.Name(), Type: sh.Type()}); err != nil {
				return err
			}
			continue
		}
		ents, err := os.ReadDir(b.spacesPath() + "/" + sh.Name())
		if err != nil {
			return fmt.Errorf("mpk: scan spaces: %w", err)
		}
		for _, ent := range ents {
			if err := ctx.Err(); err != nil {
				return err
			}
			e := SpaceEntry{Rel: sh.Name() + "/" + ent.Name(), Type: ent.Type()}
			if id := ent.Name(); ent.IsDir() && metadata.ValidateID(id) == nil && id[:2] == sh.Name() {
				e.ID = id
				e.Space, e.RecordBytes, e.Err = readSpaceRaw(b.spacePath(id)+"/"+spaceRecord, id)
			}
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

func readSpaceRaw(path, id string) (*metadata.Space, int, error) {
	fd, data, _, err := readFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, fmt.Errorf("%w: space %s has no record", metadata.ErrNotFound, id)
		}
		return nil, 0, fmt.Errorf("mpk: %w", err)
	}
	unix.Close(fd)
	s, err := metadata.DecodeSpace(data)
	if err != nil {
		return nil, len(data), fmt.Errorf("mpk: %s: %w", path, err)
	}
	if s.ID != id {
		return nil, len(data), fmt.Errorf("mpk: %s: %w: record names space %s", path, metadata.ErrCorrupt, s.ID)
	}
	return s, len(data), nil
}

// SpaceFiles lists the names directly in space sid's directory, sorted (a
// handful: space.mpk, ns, nodes, trash, and whatever else someone put
// there).
func (b *Backend) SpaceFiles(sid string) ([]fs.DirEntry, error) {
	if err := validIDs(sid); err != nil {
		return nil, err
	}
	return os.ReadDir(b.spacePath(sid))
}

// UploadEntry is one name in the uploads directory.
type UploadEntry struct {
	Name string
	Kind EntryKind // EntryRecord, EntryTemp or EntryOther
	ID   string
	Type fs.FileMode
	// Upload is the record, for EntryRecord, if it could be read;
	// otherwise Err says why.
	Upload *metadata.Upload
	Err    error
	Bytes  int
	Stamp  cache.Stamp
}

// ScanUploads calls fn for every name in the uploads directory, reading
// each upload record.
func (b *Backend) ScanUploads(ctx context.Context, fn func(UploadEntry) error) error {
	dir := b.root + "/" + uploadsDir
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return eachEntry(ctx, dir, func(de fs.DirEntry) error {
		e := UploadEntry{Name: de.Name(), Type: de.Type()}
		e.Kind, e.ID = ClassifyName(e.Name, e.Type)
		switch e.Kind {
		case EntryRecord:
			fd, data, st, err := readFile(dir + "/" + e.Name)
			if errors.Is(err, fs.ErrNotExist) {
				return nil // finished meanwhile
			}
			e.Stamp = st
			if err != nil {
				e.Err = fmt.Errorf("mpk: %w", err)
				break
			}
			unix.Close(fd)
			e.Bytes = len(data)
			e.Upload, e.Err = metadata.DecodeUpload(data)
			if e.Err == nil && e.Upload.ID != e.ID {
				e.Upload, e.Err = nil, fmt.Errorf("%w: upload record %s names %s", metadata.ErrCorrupt, e.ID, e.Upload.ID)
			}
		case EntryTemp:
		case EntryFolder, EntryPending:
			e.Kind, e.ID = EntryOther, ""
		}
		return fn(e)
	})
}

// ListSpaceIDs returns the ids of the spaces that have a readable record,
// sorted.
func (b *Backend) ListSpaceIDs(ctx context.Context) ([]string, error) {
	var ids []string
	err := b.ScanSpaces(ctx, func(e SpaceEntry) error {
		if e.Space != nil {
			ids = append(ids, e.ID)
		}
		return nil
	})
	slices.Sort(ids)
	return ids, err
}

// SpaceReader reads the raw files of one space relative to a kept
// descriptor of its nodes directory, so that the kernel resolves two names
// per record instead of a whole path: the checker's walk reads every record
// of a space once, and that is most of its time. Safe for concurrent use.
type SpaceReader struct {
	b   *Backend
	sid string
	dfd int
}

// OpenSpaceReader opens a reader of space sid; the caller closes it.
func (b *Backend) OpenSpaceReader(sid string) (*SpaceReader, error) {
	if err := validIDs(sid); err != nil {
		return nil, err
	}
	dir := b.spacePath(sid) + "/" + nodesDir
	fd, err := openRetry(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return &SpaceReader{b: b, sid: sid, dfd: fd}, nil
}

// Close releases the descriptor.
func (r *SpaceReader) Close() error { return unix.Close(r.dfd) }

// recordBuf is the read buffer of Record: records are a few hundred bytes;
// a larger one is read again the ordinary way.
const recordBuf = 4096

var recordBufs = sync.Pool{New: func() any { b := make([]byte, recordBuf); return &b }}

// Record is ReadRaw, with a stamp only if stamped is set: without it, a
// record costs an open, one read and a close (and a getxattr for a
// folder), and RawRecord.Stamp is zero. Callers that find something worth
// reporting read it again with its stamp.
func (r *SpaceReader) Record(id string, stamped bool) RawRecord {
	if stamped {
		return r.b.ReadRaw(r.sid, id)
	}
	rel := id[:2] + "/" + id + recordExt
	fd, err := openatRetry(r.dfd, rel, openRead)
	if err != nil {
		return r.b.ReadRaw(r.sid, id) // the ordinary way says what is wrong
	}
	defer unix.Close(fd)
	bp := recordBufs.Get().(*[]byte)
	defer recordBufs.Put(bp)
	buf := *bp
	var n int
	for {
		// One read: a regular file gives everything up to its end.
		n, err = unix.Pread(fd, buf, 0)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil || n == len(buf) || n == 0 {
		return r.b.ReadRaw(r.sid, id)
	}
	res := RawRecord{Bytes: n}
	node, err := metadata.DecodeNode(buf[:n])
	if err != nil {
		return r.b.ReadRaw(r.sid, id)
	}
	if node.ID != id || node.SpaceID != r.sid {
		return r.b.ReadRaw(r.sid, id)
	}
	res.Node = node
	if node.Type == metadata.TypeDir {
		res.Tree, res.TreeErr = getTree(fd)
		node.Tree = res.Tree
	}
	return res
}

func openatRetry(dfd int, path string, flags int) (int, error) {
	for {
		fd, err := unix.Openat(dfd, path, flags, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return fd, err
	}
}

// Folder is ReadFolder, relative to the kept descriptor.
func (r *SpaceReader) Folder(ctx context.Context, id string, fn func(FolderEntry) error) (cache.Stamp, error) {
	rel := id[:2] + "/" + id
	dir := r.b.dirPath(r.sid, id)
	fd, err := openatRetry(r.dfd, rel, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return cache.Stamp{}, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	var ust unix.Stat_t
	if err := unix.Fstat(fd, &ust); err != nil {
		return cache.Stamp{}, &os.PathError{Op: "fstat", Path: dir, Err: err}
	}
	st := cache.StampOf(&ust)
	return st, readEntries(ctx, f, fd, dir, "folder "+id, fn)
}
