package metadata

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/s3dfs/s3dfs/cache"
	"github.com/vmihailenco/msgpack/v5"
)

// SpaceType is the kind of a space.
type SpaceType string

const (
	SpacePersonal SpaceType = "personal"
	SpaceProject  SpaceType = "project"
)

// Space is the record of a space: a tree with its own root, owner and quota.
// The id of a space is also the id of its root node.
type Space struct {
	Version uint16    `msgpack:"v"`
	ID      string    `msgpack:"id"`
	Type    SpaceType `msgpack:"t"`
	Name    string    `msgpack:"n"`
	Owner   string    `msgpack:"o,omitempty"`
	// Quota is the limit on the space's tree size in bytes; 0 means none.
	Quota int64 `msgpack:"q,omitempty"`
	Btime int64 `msgpack:"bt"` // ns; creation
	// Locks are WebDAV locks as older code kept them. This code keeps
	// each lock in a record of its own (Backend.UpdateLocks): a space
	// record that every request reads must not grow with what one user
	// does. Backends still read these, and move them out (dropping the
	// expired ones) on the next write of the space's locks, reservations
	// or record; they never write new ones.
	Locks []Lock `msgpack:"locks,omitempty"`
	// Description is free text shown to users.
	Description string `msgpack:"desc,omitempty"`
	// Disabled is when the space was disabled (ns), 0 while it is enabled.
	// A disabled space is invisible to everyone but its managers until it
	// is restored or purged.
	Disabled int64 `msgpack:"dis,omitempty"`
	// Grants give users and groups access to a node and everything below
	// it. Grants on the root node make the space's members. They live here,
	// like Locks, so that one cached read of this record tells every
	// grant that can apply to any node of the space.
	Grants []Grant `msgpack:"grants,omitempty"`
	// Reservations are quota reservations as older code kept them; like
	// Locks, they now live in records of their own
	// (Backend.UpdateReservations) and are moved out on the next write.
	Reservations []Reservation `msgpack:"res,omitempty"`

	// Stamp identifies the stored version this Space was read from.
	Stamp cache.Stamp `msgpack:"-"`

	unknown map[string]msgpack.RawMessage
}

// Grant gives a user or group a role on a node and its subtree, or denies
// them access to it.
type Grant struct {
	ID     string `msgpack:"id"`
	NodeID string `msgpack:"node"`
	// Grantee is "user:NAME" or "group:NAME".
	Grantee string `msgpack:"to"`
	Role    string `msgpack:"role"`
	// Deny makes the grant take the role's permissions away instead.
	Deny    bool   `msgpack:"deny,omitempty"`
	Expires int64  `msgpack:"exp,omitempty"` // ns; 0 never
	Creator string `msgpack:"by,omitempty"`
	Created int64  `msgpack:"ct"`

	unknown map[string]msgpack.RawMessage
}

// Reservation holds quota for an upload in progress (and, for a resumable
// upload, registers it with its space, quota or not, so that the uploads
// one user has open can be counted).
type Reservation struct {
	// Version is the format of a reservation record (EncodeReservation);
	// 0 in the Reservations of a space record that older code wrote.
	Version uint16 `msgpack:"v,omitempty"`
	// ID names the reservation: the upload session's id, or a fresh one
	// for an upload that holds quota only while its body streams.
	ID      string `msgpack:"id"`
	Bytes   int64  `msgpack:"b"`
	Expires int64  `msgpack:"exp"` // ns
	// User holds it (per-user limits count by it); empty for older
	// entries and for administrators' tools.
	User string `msgpack:"user,omitempty"`

	unknown map[string]msgpack.RawMessage
}

// Lock is a WebDAV lock. Locks belong to URLs, not to resources (RFC
// 4918, 7): Path is the lock root, the space path the lock was taken on,
// and NodeID the resource at that path that the lock protects. A lock
// whose path no longer names its node protects nothing (its resource was
// moved away or deleted); a MOVE or COPY onto a locked path gives the lock
// the new resource's id.
type Lock struct {
	// Version is the format of a lock record (EncodeLock); 0 in the Locks
	// of a space record that older code wrote.
	Version uint16 `msgpack:"v,omitempty"`
	Token   string `msgpack:"tok"`
	NodeID  string `msgpack:"node"`
	// Path is the lock root ("/a/b"); empty in older entries, which are
	// bound to their node wherever it is.
	Path    string `msgpack:"path,omitempty"`
	User    string `msgpack:"user,omitempty"`  // who took it
	Owner   string `msgpack:"owner,omitempty"` // the client's owner description, opaque
	Shared  bool   `msgpack:"shared,omitempty"`
	Deep    bool   `msgpack:"deep,omitempty"` // depth infinity: covers everything below
	Created int64  `msgpack:"ct"`             // ns
	Expires int64  `msgpack:"exp"`            // ns

	unknown map[string]msgpack.RawMessage
}

var (
	spaceCodec       = newStructCodec(reflect.TypeFor[Space]())
	lockCodec        = newStructCodec(reflect.TypeFor[Lock]())
	grantCodec       = newStructCodec(reflect.TypeFor[Grant]())
	reservationCodec = newStructCodec(reflect.TypeFor[Reservation]())
)

// EncodeMsgpack implements msgpack.CustomEncoder.
func (g *Grant) EncodeMsgpack(enc *msgpack.Encoder) error {
	return grantCodec.encode(enc, reflect.ValueOf(g).Elem(), g.unknown)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (g *Grant) DecodeMsgpack(dec *msgpack.Decoder) error {
	return grantCodec.decode(dec, reflect.ValueOf(g).Elem(), &g.unknown)
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (r *Reservation) EncodeMsgpack(enc *msgpack.Encoder) error {
	return reservationCodec.encode(enc, reflect.ValueOf(r).Elem(), r.unknown)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (r *Reservation) DecodeMsgpack(dec *msgpack.Decoder) error {
	return reservationCodec.decode(dec, reflect.ValueOf(r).Elem(), &r.unknown)
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (l *Lock) EncodeMsgpack(enc *msgpack.Encoder) error {
	return lockCodec.encode(enc, reflect.ValueOf(l).Elem(), l.unknown)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (l *Lock) DecodeMsgpack(dec *msgpack.Decoder) error {
	return lockCodec.decode(dec, reflect.ValueOf(l).Elem(), &l.unknown)
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (s *Space) EncodeMsgpack(enc *msgpack.Encoder) error {
	return spaceCodec.encode(enc, reflect.ValueOf(s).Elem(), s.unknown)
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (s *Space) DecodeMsgpack(dec *msgpack.Decoder) error {
	return spaceCodec.decode(dec, reflect.ValueOf(s).Elem(), &s.unknown)
}

// Clone returns a copy the caller may modify.
func (s *Space) Clone() *Space {
	c := *s
	c.unknown = cloneRaw(s.unknown)
	if s.Locks != nil {
		c.Locks = make([]Lock, len(s.Locks))
		for i, l := range s.Locks {
			l.unknown = cloneRaw(l.unknown)
			c.Locks[i] = l
		}
	}
	if s.Grants != nil {
		c.Grants = make([]Grant, len(s.Grants))
		for i, g := range s.Grants {
			g.unknown = cloneRaw(g.unknown)
			c.Grants[i] = g
		}
	}
	if s.Reservations != nil {
		c.Reservations = make([]Reservation, len(s.Reservations))
		for i, r := range s.Reservations {
			r.unknown = cloneRaw(r.unknown)
			c.Reservations[i] = r
		}
	}
	return &c
}

// UnknownFields lists preserved fields this version does not know.
func (s *Space) UnknownFields() []string { return sortedKeys(s.unknown) }

// Validate checks the rules every stored space record obeys.
func (s *Space) Validate() error {
	switch {
	case s.Version == 0 || s.Version > FormatVersion:
		return fmt.Errorf("%w: space %s: format version %d", ErrCorrupt, s.ID, s.Version)
	case ValidateID(s.ID) != nil:
		return fmt.Errorf("%w: space: bad id %q", ErrCorrupt, s.ID)
	case s.Type != SpacePersonal && s.Type != SpaceProject:
		return fmt.Errorf("%w: space %s: bad type %q", ErrCorrupt, s.ID, s.Type)
	case s.Quota < 0:
		return fmt.Errorf("%w: space %s: negative quota", ErrCorrupt, s.ID)
	}
	for _, l := range s.Locks {
		if l.Token == "" || ValidateID(l.NodeID) != nil {
			return fmt.Errorf("%w: space %s: lock %q on node %q", ErrCorrupt, s.ID, l.Token, l.NodeID)
		}
	}
	for _, g := range s.Grants {
		if g.ID == "" || ValidateID(g.NodeID) != nil || g.Role == "" ||
			!(strings.HasPrefix(g.Grantee, "user:") || strings.HasPrefix(g.Grantee, "group:")) {
			return fmt.Errorf("%w: space %s: grant %q on node %q to %q", ErrCorrupt, s.ID, g.ID, g.NodeID, g.Grantee)
		}
	}
	return nil
}

// EncodeSpace returns the record bytes of s.
func EncodeSpace(s *Space) ([]byte, error) {
	return EncodeSpaceFrom(s, 0)
}

// EncodeSpaceFrom is EncodeSpace for a record replacing one of oldSize
// bytes: a record that older code let grow past MaxRecordSize may be
// written back as long as it does not grow, so that it can shrink (a grant
// removed) on its way back under the limit.
func EncodeSpaceFrom(s *Space, oldSize int) ([]byte, error) {
	if s.Version == 0 {
		s.Version = FormatVersion
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("metadata: refusing to write an invalid record: %w", err)
	}
	return encode(s, "space "+s.ID, max(MaxRecordSize, oldSize))
}

// DecodeSpace parses and validates a space record; failures wrap ErrCorrupt.
func DecodeSpace(b []byte) (*Space, error) {
	s := new(Space)
	if err := decode(b, s); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

func sortedKeys(m map[string]msgpack.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
