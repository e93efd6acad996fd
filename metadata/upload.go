package metadata

import (
	"fmt"
	"reflect"

	"github.com/vmihailenco/msgpack/v5"
)

// Upload is the record of a resumable upload in progress: where its content
// goes once complete, how far it has come, and the state needed to go on in
// any process that shares the store (the blob store's multipart upload, the
// parts and small tail blobs stored so far, and the checksum states of
// everything received).
type Upload struct {
	Version  uint16 `msgpack:"v"`
	ID       string `msgpack:"id"`
	SpaceID  string `msgpack:"sp"`
	ParentID string `msgpack:"p"`
	Name     string `msgpack:"n"`
	// NodeID is the id the new node will get (blobs point back at it).
	NodeID string `msgpack:"node"`
	User   string `msgpack:"user,omitempty"`
	// Size is the declared total length; Offset how much has arrived.
	Size   int64 `msgpack:"s"`
	Offset int64 `msgpack:"off"`
	// Mtime (ns) for the file, 0 for "when it completes".
	Mtime    int64  `msgpack:"mt,omitempty"`
	MimeType string `msgpack:"mime,omitempty"`
	// Checksum is an expected checksum of the whole content, "type:hex".
	Checksum string `msgpack:"ck,omitempty"`
	// IfMatch is the etag the file must still have when the upload
	// finishes (the client's If-Match at the start).
	IfMatch string            `msgpack:"ifm,omitempty"`
	Meta    map[string]string `msgpack:"meta,omitempty"`
	Created int64             `msgpack:"ct"`
	Expires int64             `msgpack:"exp"`

	BlobID      string       `msgpack:"b"`
	MultipartID string       `msgpack:"mp,omitempty"`
	PartSize    int64        `msgpack:"ps"`
	Parts       []UploadPart `msgpack:"parts,omitempty"`
	// Tails are blobs holding what arrived after the last full part.
	Tails []UploadTail `msgpack:"tails,omitempty"`
	// Hashes are the marshalled states of the SHA-1, MD5 and Adler-32
	// of the first Offset bytes.
	Hashes [][]byte `msgpack:"h,omitempty"`

	// Writer holds the upload while a chunk streams in: a lease (the
	// holder's token and the lease's end in ns), so that a second writer
	// fails at once instead of racing the first for the same parts.
	Writer      string `msgpack:"wr,omitempty"`
	WriterUntil int64  `msgpack:"wru,omitempty"`
	// Finisher holds the upload, likewise, while it is assembled and
	// committed.
	Finisher      string `msgpack:"fin,omitempty"`
	FinisherUntil int64  `msgpack:"finu,omitempty"`
	// Done is the id of the file the upload became. The record stays until
	// it expires, so that finishing again gives the same answer.
	Done string `msgpack:"done,omitempty"`

	// Detached: ParentID and Name are placeholders (the space root and a
	// name of the upload's own); the file is named when the upload
	// finishes. Chunked uploads of the ownCloud and Nextcloud clients
	// learn their target only then.
	Detached bool `msgpack:"det,omitempty"`
	// Parked are chunks that arrived ahead of their turn (they start
	// beyond Offset), each kept whole in a blob of its own until the bytes
	// before it have arrived; at most MaxParked.
	Parked []UploadChunk `msgpack:"park,omitempty"`

	unknown map[string]msgpack.RawMessage
}

// UploadPart is a part stored in the blob store's multipart upload.
type UploadPart struct {
	Number int    `msgpack:"n"`
	Size   int64  `msgpack:"s"`
	ETag   string `msgpack:"e"`
}

// UploadChunk is a chunk kept aside: Size bytes of the content from
// Offset on, in the blob BlobID.
type UploadChunk struct {
	Offset int64  `msgpack:"o"`
	Size   int64  `msgpack:"s"`
	BlobID string `msgpack:"b"`
}

// MaxParked bounds the chunks an upload keeps aside, so that its record
// stays small however a client orders its chunks.
const MaxParked = 64

// UploadTail is a small blob holding bytes that do not fill a part yet.
type UploadTail struct {
	BlobID string `msgpack:"b"`
	Size   int64  `msgpack:"s"`
}

var uploadCodec = newStructCodec(reflect.TypeFor[Upload]())

// EncodeMsgpack implements msgpack.CustomEncoder.
func (u *Upload) EncodeMsgpack(enc *msgpack.Encoder) error {
	return uploadCodec.encode(enc, reflect.ValueOf(u).Elem(), u.unknown)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (u *Upload) DecodeMsgpack(dec *msgpack.Decoder) error {
	return uploadCodec.decode(dec, reflect.ValueOf(u).Elem(), &u.unknown)
}

// Clone returns a deep copy the caller may modify.
func (u *Upload) Clone() *Upload {
	c := *u
	c.unknown = cloneRaw(u.unknown)
	if u.Meta != nil {
		c.Meta = make(map[string]string, len(u.Meta))
		for k, v := range u.Meta {
			c.Meta[k] = v
		}
	}
	c.Parts = append([]UploadPart(nil), u.Parts...)
	c.Tails = append([]UploadTail(nil), u.Tails...)
	c.Parked = append([]UploadChunk(nil), u.Parked...)
	c.Hashes = make([][]byte, len(u.Hashes))
	for i, h := range u.Hashes {
		c.Hashes[i] = append([]byte(nil), h...)
	}
	return &c
}

// Validate checks the rules every stored upload record obeys.
func (u *Upload) Validate() error {
	fail := func(what string) error { return fmt.Errorf("%w: upload %s: %s", ErrCorrupt, u.ID, what) }
	switch {
	case u.Version == 0 || u.Version > FormatVersion:
		return fail(fmt.Sprintf("format version %d", u.Version))
	case ValidateID(u.ID) != nil:
		return fail("bad id")
	case ValidateID(u.SpaceID) != nil || ValidateID(u.ParentID) != nil || ValidateID(u.NodeID) != nil || ValidateID(u.BlobID) != nil:
		return fail("bad space, parent, node or blob id")
	case ValidateName(u.Name) != nil:
		return fail("bad name")
	case u.Size < 0 || u.Offset < 0 || u.Offset > u.Size:
		return fail(fmt.Sprintf("offset %d of size %d", u.Offset, u.Size))
	case u.PartSize <= 0:
		return fail("no part size")
	case len(u.Parked) > MaxParked:
		return fail(fmt.Sprintf("%d parked chunks, more than %d", len(u.Parked), MaxParked))
	}
	for _, c := range u.Parked {
		if c.Offset < 0 || c.Size <= 0 || c.Offset+c.Size > u.Size || ValidateID(c.BlobID) != nil {
			return fail(fmt.Sprintf("parked chunk of %d bytes at %d", c.Size, c.Offset))
		}
	}
	return nil
}

// EncodeUpload returns the record bytes of u.
func EncodeUpload(u *Upload) ([]byte, error) {
	if u.Version == 0 {
		u.Version = FormatVersion
	}
	if err := u.Validate(); err != nil {
		return nil, fmt.Errorf("metadata: refusing to write an invalid record: %w", err)
	}
	return encode(u, "upload "+u.ID, MaxRecordSize)
}

// DecodeUpload parses and validates an upload record; failures wrap
// ErrCorrupt.
func DecodeUpload(b []byte) (*Upload, error) {
	u := new(Upload)
	if err := decode(b, u); err != nil {
		return nil, err
	}
	if err := u.Validate(); err != nil {
		return nil, err
	}
	return u, nil
}
