package metadata

import (
	"fmt"
	"reflect"
	"slices"

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
	// Locks are the space's WebDAV locks. They live here rather than in
	// node records so that a lock can be checked against the locks above
	// and below it in one atomic read-modify-write of one record, and so
	// that a mutation learns whether anything in the space is locked from
	// one cached read.
	Locks []Lock `msgpack:"locks,omitempty"`

	unknown map[string]msgpack.RawMessage
}

// Lock is a lock on a node, as WebDAV defines it.
type Lock struct {
	Token   string `msgpack:"tok"`
	NodeID  string `msgpack:"node"`
	User    string `msgpack:"user,omitempty"`  // who took it
	Owner   string `msgpack:"owner,omitempty"` // the client's owner description, opaque
	Shared  bool   `msgpack:"shared,omitempty"`
	Deep    bool   `msgpack:"deep,omitempty"` // depth infinity: covers everything below
	Created int64  `msgpack:"ct"`             // ns
	Expires int64  `msgpack:"exp"`            // ns

	unknown map[string]msgpack.RawMessage
}

var (
	spaceCodec = newStructCodec(reflect.TypeFor[Space]())
	lockCodec  = newStructCodec(reflect.TypeFor[Lock]())
)

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
	return nil
}

// EncodeSpace returns the record bytes of s.
func EncodeSpace(s *Space) ([]byte, error) {
	if s.Version == 0 {
		s.Version = FormatVersion
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("metadata: refusing to write an invalid record: %w", err)
	}
	return encode(s)
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
