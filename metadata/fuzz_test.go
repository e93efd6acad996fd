package metadata

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The decoders read untrusted bytes (a record file anyone with access to the
// volume may have damaged). For any input they either return a record that
// passes Validate and survives another encode/decode unchanged, in one
// canonical encoding, or fail with ErrCorrupt; they never panic.
//
//	go test ./metadata -run '^$' -fuzz FuzzDecodeNode -fuzztime 60s
//
// Inputs that once failed live in testdata/fuzz/<target>/ and run with
// every plain go test.

// addGoldenSeeds seeds f with the golden files whose name starts with prefix,
// and with each cut short, which reaches most error paths at once.
func addGoldenSeeds(f *testing.F, prefix string) {
	paths, err := filepath.Glob(filepath.Join("testdata", prefix+"*.mpk"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no golden files %s*.mpk in testdata (%v)", prefix, err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)/2])
	}
	f.Add([]byte{})
	f.Add([]byte{0xc0})
	f.Add([]byte{0x80})
}

func FuzzDecodeNode(f *testing.F) {
	addGoldenSeeds(f, "node-")
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := DecodeNode(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			if n != nil {
				t.Fatalf("a failed decode returned a node")
			}
			return
		}
		if err := n.Validate(); err != nil {
			t.Fatalf("decoded node fails Validate: %v", err)
		}
		enc, err := EncodeNode(n.Clone())
		if err != nil {
			t.Fatalf("a decoded node does not encode: %v", err)
		}
		n2, err := DecodeNode(enc)
		if err != nil {
			t.Fatalf("re-encoded node does not decode: %v\n%x", err, enc)
		}
		if !reflect.DeepEqual(n, n2) {
			t.Fatalf("roundtrip changed the node:\n%+v\n%+v", n, n2)
		}
		enc2, err := EncodeNode(n2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not canonical: %x then %x (%v)", enc, enc2, err)
		}
	})
}

func FuzzDecodeSpace(f *testing.F) {
	addGoldenSeeds(f, "space")
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeSpace(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			if s != nil {
				t.Fatalf("a failed decode returned a space")
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("decoded space fails Validate: %v", err)
		}
		enc, err := EncodeSpace(s.Clone())
		if err != nil {
			t.Fatalf("a decoded space does not encode: %v", err)
		}
		s2, err := DecodeSpace(enc)
		if err != nil {
			t.Fatalf("re-encoded space does not decode: %v\n%x", err, enc)
		}
		if !reflect.DeepEqual(s, s2) {
			t.Fatalf("roundtrip changed the space:\n%+v\n%+v", s, s2)
		}
		enc2, err := EncodeSpace(s2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not canonical: %x then %x (%v)", enc, enc2, err)
		}
	})
}

// fuzzRecord holds a decoder of small records (locks, reservations) to the
// same rules: a valid, canonically re-encoded record, or ErrCorrupt.
func fuzzRecord[T any](t *testing.T, data []byte, decode func([]byte) (*T, error), encode func(*T) ([]byte, error)) {
	v, err := decode(data)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
		if v != nil {
			t.Fatalf("a failed decode returned a record")
		}
		return
	}
	cp := *v
	enc, err := encode(&cp)
	if err != nil {
		t.Fatalf("a decoded record does not encode: %v", err)
	}
	v2, err := decode(enc)
	if err != nil {
		t.Fatalf("re-encoded record does not decode: %v\n%x", err, enc)
	}
	if !reflect.DeepEqual(v, v2) {
		t.Fatalf("roundtrip changed the record:\n%+v\n%+v", v, v2)
	}
	enc2, err := encode(v2)
	if err != nil || !bytes.Equal(enc, enc2) {
		t.Fatalf("encoding is not canonical: %x then %x (%v)", enc, enc2, err)
	}
}

func FuzzDecodeLock(f *testing.F) {
	addGoldenSeeds(f, "lock")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRecord(t, data, DecodeLock, EncodeLock) })
}

func FuzzDecodeReservation(f *testing.F) {
	addGoldenSeeds(f, "reservation")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRecord(t, data, DecodeReservation, EncodeReservation) })
}
