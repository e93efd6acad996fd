package metadata

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"reflect"
	"unsafe"

	"github.com/s3dfs/s3dfs/cache"
	"github.com/vmihailenco/msgpack/v5"
)

// FormatVersion is the record format this code writes. A reader accepts
// records of its own version or older; fields added without breaking older
// readers do not bump it (they are preserved as unknown fields instead).
const FormatVersion = 1

// MaxRecordSize bounds every record this code writes: an encoding that
// would be larger is refused with ErrTooLarge, so that no request can make
// a record that readers refuse. Per-request state (locks, quota
// reservations) lives in records of its own for the same reason: one
// user's requests never grow a record that everybody reads.
const MaxRecordSize = 1 << 20

// MaxReadSize bounds what readers accept, so that a corrupt or hostile
// record file cannot make a reader allocate without limit. It is larger
// than MaxRecordSize on purpose: older code did not bound its writes, and
// a record it let grow past MaxRecordSize (by at most one request's worth:
// its writers read the record first, and failed once it was too large)
// must still open, for reading, for the migration of what it holds, and
// for repair.
const MaxReadSize = 16 << 20

// NodeType says whether a node is a file or a folder.
type NodeType uint8

const (
	TypeFile NodeType = 1
	TypeDir  NodeType = 2
)

func (t NodeType) String() string {
	switch t {
	case TypeFile:
		return "file"
	case TypeDir:
		return "folder"
	}
	return fmt.Sprintf("NodeType(%d)", uint8(t))
}

// Checksums of a file's content, computed in one pass while it is uploaded.
type Checksums struct {
	SHA1    []byte `msgpack:"sha1,omitempty"`
	MD5     []byte `msgpack:"md5,omitempty"`
	Adler32 []byte `msgpack:"adler32,omitempty"`

	unknown map[string]msgpack.RawMessage
}

// TreeStats are the values propagated from a folder's descendants. Backends
// may store them apart from the record (metadata/mpk keeps them in an
// extended attribute, so that propagation rewrites no file).
type TreeStats struct {
	// Size is the sum of the sizes of all live files below the folder.
	Size int64
	// Mtime is the time of the last change below the folder, in ns. It
	// strictly increases with every change, so it also versions the
	// folder's etag.
	Mtime int64
}

// Node is the record of one file or folder.
//
// Nodes returned by a Backend's read methods are shared with its cache and
// must not be modified; Clone one to change it.
type Node struct {
	Version  uint16   `msgpack:"v"`
	ID       string   `msgpack:"id"`
	SpaceID  string   `msgpack:"sp"`
	ParentID string   `msgpack:"p,omitempty"` // empty for a space root
	Name     string   `msgpack:"n,omitempty"` // empty for a space root
	Type     NodeType `msgpack:"t"`
	// Size is a file's content length in bytes (0 for folders).
	Size int64 `msgpack:"s,omitempty"`
	// BlobID names the file's content in the blob store; empty for an empty
	// file and for folders.
	BlobID    string    `msgpack:"b,omitempty"`
	Mtime     int64     `msgpack:"mt"`           // ns; a file's content mtime, a folder's own
	Btime     int64     `msgpack:"bt,omitempty"` // ns; creation
	Checksums Checksums `msgpack:"ck,omitempty"`
	MimeType  string    `msgpack:"mime,omitempty"`
	// Trashed is when the node was moved to its space's trash (ns), 0 while
	// it lives. Only the top node of a trashed subtree is marked.
	Trashed int64 `msgpack:"tr,omitempty"`
	// Props are dead properties set by clients (WebDAV PROPPATCH).
	Props map[string]string `msgpack:"props,omitempty"`
	// Revisions are earlier contents of a file, oldest first.
	Revisions []Revision `msgpack:"revs,omitempty"`

	// Tree holds the propagated values of a folder (zero for files).
	Tree TreeStats `msgpack:"-"`
	// Stamp identifies the stored version this Node was read from. Backends
	// set it on every read; it is not part of the record.
	Stamp cache.Stamp `msgpack:"-"`

	etag    string
	unknown map[string]msgpack.RawMessage
}

// Revision is an earlier content of a file, kept when it was overwritten.
type Revision struct {
	// ID names the revision (the time it was replaced, in ns, as a
	// decimal string: unique within a file and sorted like time).
	ID        string    `msgpack:"id"`
	BlobID    string    `msgpack:"b,omitempty"`
	Size      int64     `msgpack:"s,omitempty"`
	Mtime     int64     `msgpack:"mt"`
	Checksums Checksums `msgpack:"ck,omitempty"`

	unknown map[string]msgpack.RawMessage
}

var revisionCodec = newStructCodec(reflect.TypeFor[Revision]())

// EncodeMsgpack implements msgpack.CustomEncoder.
func (r *Revision) EncodeMsgpack(enc *msgpack.Encoder) error {
	return revisionCodec.encode(enc, reflect.ValueOf(r).Elem(), r.unknown)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (r *Revision) DecodeMsgpack(dec *msgpack.Decoder) error {
	return revisionCodec.decode(dec, reflect.ValueOf(r).Elem(), &r.unknown)
}

var (
	nodeCodec      = newStructCodec(reflect.TypeFor[Node]())
	checksumsCodec = newStructCodec(reflect.TypeFor[Checksums]())
)

// EncodeMsgpack implements msgpack.CustomEncoder.
func (n *Node) EncodeMsgpack(enc *msgpack.Encoder) error {
	return nodeCodec.encode(enc, reflect.ValueOf(n).Elem(), n.unknown)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (n *Node) DecodeMsgpack(dec *msgpack.Decoder) error {
	return nodeCodec.decode(dec, reflect.ValueOf(n).Elem(), &n.unknown)
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (c *Checksums) EncodeMsgpack(enc *msgpack.Encoder) error {
	return checksumsCodec.encode(enc, reflect.ValueOf(c).Elem(), c.unknown)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (c *Checksums) DecodeMsgpack(dec *msgpack.Decoder) error {
	return checksumsCodec.decode(dec, reflect.ValueOf(c).Elem(), &c.unknown)
}

// IsDir reports whether n is a folder.
func (n *Node) IsDir() bool { return n.Type == TypeDir }

// IsRoot reports whether n is the root of its space.
func (n *Node) IsRoot() bool { return n.ID == n.SpaceID }

// TreeSize is a folder's tree size or a file's size. A folder's stored sum
// can be negative for a moment while concurrent deltas arrive out of order
// (see Backend.Propagate); it is reported as 0 then.
func (n *Node) TreeSize() int64 {
	if n.Type == TypeDir {
		return max(n.Tree.Size, 0)
	}
	return n.Size
}

// Etag changes whenever the node's content changes: for a file its blob or
// mtime, for a folder anything below it. It is derived, never stored.
func (n *Node) Etag() string {
	if n.etag != "" {
		return n.etag
	}
	return n.computeEtag()
}

// Seal precomputes derived values. Backends call it before sharing a Node
// with their cache, so that reads of a cached node allocate nothing.
func (n *Node) Seal() { n.etag = n.computeEtag() }

// ChecksumsHex returns the checksums in lower-case hex ("" where unknown),
// with one allocation for all three: they are not kept in hex, since a
// cached node's memory matters more than this allocation.
func (n *Node) ChecksumsHex() (sha1, md5, adler32 string) {
	c := n.Checksums
	l1, l2, l3 := 2*len(c.SHA1), 2*len(c.MD5), 2*len(c.Adler32)
	if l1+l2+l3 == 0 {
		return "", "", ""
	}
	buf := make([]byte, l1+l2+l3)
	hex.Encode(buf, c.SHA1)
	hex.Encode(buf[l1:], c.MD5)
	hex.Encode(buf[l1+l2:], c.Adler32)
	s := unsafe.String(&buf[0], len(buf)) // buf is not written again
	return s[:l1], s[l1 : l1+l2], s[l1+l2:]
}

func (n *Node) computeEtag() string {
	h := fnv.New128a()
	h.Write([]byte(n.ID))
	var b [16]byte
	if n.Type == TypeDir {
		binary.LittleEndian.PutUint64(b[:], uint64(n.Tree.Mtime))
		h.Write(b[:8])
	} else {
		h.Write([]byte(n.BlobID))
		binary.LittleEndian.PutUint64(b[:], uint64(n.Mtime))
		binary.LittleEndian.PutUint64(b[8:], uint64(n.Size))
		h.Write(b[:])
	}
	sum := h.Sum(nil)
	return `"` + hex.EncodeToString(sum[:10]) + `"`
}

// Clone returns a deep copy of n that the caller may modify. Derived values
// are dropped; unknown fields are kept.
func (n *Node) Clone() *Node {
	c := *n
	c.etag = ""
	c.Checksums.SHA1 = bytes.Clone(n.Checksums.SHA1)
	c.Checksums.MD5 = bytes.Clone(n.Checksums.MD5)
	c.Checksums.Adler32 = bytes.Clone(n.Checksums.Adler32)
	c.Checksums.unknown = cloneRaw(n.Checksums.unknown)
	if n.Props != nil {
		c.Props = make(map[string]string, len(n.Props))
		for k, v := range n.Props {
			c.Props[k] = v
		}
	}
	if n.Revisions != nil {
		c.Revisions = make([]Revision, len(n.Revisions))
		for i, r := range n.Revisions {
			r.Checksums.SHA1 = bytes.Clone(r.Checksums.SHA1)
			r.Checksums.MD5 = bytes.Clone(r.Checksums.MD5)
			r.Checksums.Adler32 = bytes.Clone(r.Checksums.Adler32)
			r.Checksums.unknown = cloneRaw(r.Checksums.unknown)
			r.unknown = cloneRaw(r.unknown)
			c.Revisions[i] = r
		}
	}
	c.unknown = cloneRaw(n.unknown)
	return &c
}

func cloneRaw(m map[string]msgpack.RawMessage) map[string]msgpack.RawMessage {
	if m == nil {
		return nil
	}
	c := make(map[string]msgpack.RawMessage, len(m))
	for k, v := range m {
		c[k] = bytes.Clone(v)
	}
	return c
}

// UnknownFields lists the keys of fields this version does not know but
// preserved from the record (sorted); for tests and the checker.
func (n *Node) UnknownFields() []string { return sortedKeys(n.unknown) }

// Validate checks the rules every stored node record obeys. Decoding calls
// it; the error wraps ErrCorrupt.
func (n *Node) Validate() error {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("%w: node %s: %s", ErrCorrupt, n.ID, fmt.Sprintf(format, a...))
	}
	switch {
	case n.Version == 0 || n.Version > FormatVersion:
		return fail("format version %d (this build reads 1 to %d)", n.Version, FormatVersion)
	case ValidateID(n.ID) != nil:
		return fail("bad id")
	case ValidateID(n.SpaceID) != nil:
		return fail("bad space id %q", n.SpaceID)
	case n.Type != TypeFile && n.Type != TypeDir:
		return fail("bad type %d", n.Type)
	case n.Size < 0:
		return fail("negative size %d", n.Size)
	}
	if n.IsRoot() {
		if n.ParentID != "" || n.Name != "" || n.Type != TypeDir {
			return fail("a space root has no parent or name and is a folder")
		}
		return nil
	}
	if ValidateID(n.ParentID) != nil {
		return fail("bad parent id %q", n.ParentID)
	}
	if err := ValidateName(n.Name); err != nil {
		return fail("%v", err)
	}
	if n.Type == TypeDir && (n.Size != 0 || n.BlobID != "") {
		return fail("a folder has no size or blob")
	}
	if n.BlobID != "" && ValidateID(n.BlobID) != nil {
		return fail("bad blob id %q", n.BlobID)
	}
	return nil
}

// EncodeNode returns the record bytes of n.
func EncodeNode(n *Node) ([]byte, error) {
	if n.Version == 0 {
		n.Version = FormatVersion
	}
	if err := n.Validate(); err != nil {
		return nil, fmt.Errorf("metadata: refusing to write an invalid record: %w", err)
	}
	return encode(n, "node "+n.ID, MaxRecordSize)
}

// DecodeNode parses and validates a record. Any failure wraps ErrCorrupt:
// DecodeNode never panics, whatever the bytes.
func DecodeNode(b []byte) (*Node, error) {
	n := new(Node)
	if err := decode(b, n); err != nil {
		return nil, err
	}
	if err := n.Validate(); err != nil {
		return nil, err
	}
	return n, nil
}

// encode returns the record bytes of v, or ErrTooLarge if they exceed
// limit; what names the record in that error.
func encode(v any, what string, limit int) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(&buf)
	enc.UseCompactInts(true)
	// One record, one encoding: map fields (Props) in key order, not Go's
	// random map order, so that equal records have equal bytes (writers
	// skip a rewrite that changes nothing by comparing them; golden files
	// pin them).
	enc.SetSortMapKeys(true)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("metadata: encode: %w", err)
	}
	if buf.Len() > limit {
		return nil, fmt.Errorf("%w: the record of %s would take %d bytes, more than the %d a record may hold",
			ErrTooLarge, what, buf.Len(), limit)
	}
	return buf.Bytes(), nil
}

func decode(b []byte, v any) (err error) {
	if len(b) == 0 {
		return fmt.Errorf("%w: empty record", ErrCorrupt)
	}
	if len(b) > MaxReadSize {
		return fmt.Errorf("%w: record of %d bytes exceeds %d", ErrCorrupt, len(b), MaxReadSize)
	}
	defer func() {
		// The msgpack decoder guards its allocations, but a record is
		// untrusted input: no byte sequence may crash a reader.
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: decoder panic: %v", ErrCorrupt, r)
		}
	}()
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	r := bytes.NewReader(b)
	dec.Reset(r)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if r.Len() != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, r.Len())
	}
	return nil
}
