package metadata

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/vmihailenco/msgpack/v5"
)

// structCodec encodes a record struct as a msgpack map keyed by the fields'
// msgpack tags, and keeps the map entries it does not know in a side map so
// that a read-modify-write by an older binary does not drop fields a newer
// one wrote. The tags are the single source of the format; golden files in
// testdata pin it.
type structCodec struct {
	fields []codecField
	byKey  map[string]int
}

type codecField struct {
	key       string
	index     int
	omitEmpty bool
}

func newStructCodec(t reflect.Type) *structCodec {
	c := &structCodec{byKey: map[string]int{}}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("msgpack")
		if !ok || tag == "-" || !f.IsExported() {
			continue
		}
		key, opts, _ := strings.Cut(tag, ",")
		if key == "" {
			panic(fmt.Sprintf("metadata: field %s.%s has no msgpack key", t.Name(), f.Name))
		}
		if _, dup := c.byKey[key]; dup {
			panic(fmt.Sprintf("metadata: duplicate msgpack key %q in %s", key, t.Name()))
		}
		c.byKey[key] = len(c.fields)
		c.fields = append(c.fields, codecField{key: key, index: i, omitEmpty: opts == "omitempty"})
	}
	return c
}

func (c *structCodec) encode(enc *msgpack.Encoder, v reflect.Value, unknown map[string]msgpack.RawMessage) error {
	n := len(unknown)
	for _, f := range c.fields {
		if !f.omitEmpty || !v.Field(f.index).IsZero() {
			n++
		}
	}
	if err := enc.EncodeMapLen(n); err != nil {
		return err
	}
	for _, f := range c.fields {
		fv := v.Field(f.index)
		if f.omitEmpty && fv.IsZero() {
			continue
		}
		if err := enc.EncodeString(f.key); err != nil {
			return err
		}
		if err := enc.EncodeValue(fv); err != nil {
			return err
		}
	}
	keys := make([]string, 0, len(unknown))
	for k := range unknown {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic bytes for golden files
	for _, k := range keys {
		if err := enc.EncodeString(k); err != nil {
			return err
		}
		if err := enc.Encode(unknown[k]); err != nil {
			return err
		}
	}
	return nil
}

// decode fills v from a msgpack map. Any decoding failure is returned as is;
// callers wrap it in ErrCorrupt.
func (c *structCodec) decode(dec *msgpack.Decoder, v reflect.Value, unknown *map[string]msgpack.RawMessage) error {
	n, err := dec.DecodeMapLen()
	if err != nil {
		return err
	}
	if n < 0 {
		return fmt.Errorf("record is nil, not a map")
	}
	var buf [32]byte
	for i := 0; i < n; i++ {
		kl, err := dec.DecodeBytesLen()
		if err != nil {
			return fmt.Errorf("map key: %w", err)
		}
		if kl < 0 || kl > 1024 {
			return fmt.Errorf("map key of length %d", kl)
		}
		var key []byte
		if kl <= len(buf) {
			key = buf[:kl]
		} else {
			key = make([]byte, kl)
		}
		if err := dec.ReadFull(key); err != nil {
			return fmt.Errorf("map key: %w", err)
		}
		if idx, ok := c.byKey[string(key)]; ok {
			f := c.fields[idx]
			if err := dec.DecodeValue(v.Field(f.index)); err != nil {
				return fmt.Errorf("field %q: %w", f.key, err)
			}
			continue
		}
		raw, err := dec.DecodeRaw()
		if err != nil {
			return fmt.Errorf("field %q: %w", key, err)
		}
		if *unknown == nil {
			*unknown = map[string]msgpack.RawMessage{}
		}
		(*unknown)[string(key)] = raw
	}
	return nil
}
