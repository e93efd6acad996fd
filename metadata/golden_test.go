package metadata

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// The golden files in testdata pin the record format: each holds the bytes
// of one record, and the test requires that they decode to the record below
// and that the record encodes to exactly those bytes. A change of the format
// therefore fails here until the files are rewritten on purpose:
//
//	go test ./metadata -run TestGolden -update
//
// and the diff of testdata shows it to the reviewer. Files written by an
// older FormatVersion are kept (with a new name), not rewritten: they prove
// that this build still reads them.
var update = flag.Bool("update", false, "rewrite the golden files in testdata from the records in golden_test.go")

// goldenCase is one golden file and the record it holds (node, space,
// lock or reservation).
type goldenCase struct {
	file  string
	node  *Node
	space *Space
	lock  *Lock
	res   *Reservation
	keys  []string // the record's msgpack keys, sorted: the wire names, spelled out
}

// rawMsgpack encodes v for the unknown-field maps of expected records.
func rawMsgpack(v any) msgpack.RawMessage {
	b, err := msgpack.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

const (
	goldenSpace  = "7b5d1c2e-3f4a-4b6c-8d9e-0a1b2c3d4e5f"
	goldenFolder = "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9"
	goldenFile   = "c0ffee00-1234-4567-89ab-cdef01234567"
	goldenBlob   = "b10bb10b-0000-4000-8000-00000000abcd"
	goldenTime   = 1732540800123456789 // 2024-11-25T13:20:00.123456789Z
)

func goldenCases() []goldenCase {
	file := &Node{
		Version:  1,
		ID:       goldenFile,
		SpaceID:  goldenSpace,
		ParentID: goldenFolder,
		Name:     "Report 2024 – final (1).pdf",
		Type:     TypeFile,
		Size:     1234567,
		BlobID:   goldenBlob,
		Mtime:    goldenTime,
		Btime:    goldenTime - 3_600_000_000_000,
		Checksums: Checksums{
			SHA1:    []byte{0xda, 0x39, 0xa3, 0xee, 0x5e, 0x6b, 0x4b, 0x0d, 0x32, 0x55, 0xbf, 0xef, 0x95, 0x60, 0x18, 0x90, 0xaf, 0xd8, 0x07, 0x09},
			MD5:     []byte{0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04, 0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e},
			Adler32: []byte{0x00, 0x00, 0x00, 0x01},
		},
		MimeType: "application/pdf",
		Props:    map[string]string{"http://owncloud.org/ns:tags": "q4,finance", "http://example.com/ns:color": "blue"},
	}
	trashed := file.Clone()
	trashed.Trashed = goldenTime + 1
	unknown := file.Clone()
	unknown.unknown = map[string]msgpack.RawMessage{
		"zz-future": rawMsgpack(42),
		"zz-list":   rawMsgpack([]any{"a", 1, true}),
	}
	unknown.Checksums.unknown = map[string]msgpack.RawMessage{"sha3-256": rawMsgpack(bytes.Repeat([]byte{7}, 32))}
	spaceUnknown := &Space{
		Version: 1, ID: goldenSpace, Type: SpacePersonal, Name: "Alice", Btime: goldenTime,
		unknown: map[string]msgpack.RawMessage{"zz-region": rawMsgpack("eu-central")},
	}
	return []goldenCase{
		{
			file: "node-file.mpk", node: file,
			keys: []string{"b", "bt", "ck", "id", "mime", "mt", "n", "p", "props", "s", "sp", "t", "v"},
		},
		{
			file: "node-folder.mpk",
			node: &Node{
				Version: 1, ID: goldenFolder, SpaceID: goldenSpace, ParentID: goldenSpace, Name: "Documents",
				Type: TypeDir, Mtime: goldenTime, Btime: goldenTime - 1, Props: map[string]string{"k": "v"},
			},
			keys: []string{"bt", "id", "mt", "n", "p", "props", "sp", "t", "v"},
		},
		{
			file: "node-root.mpk",
			node: &Node{Version: 1, ID: goldenSpace, SpaceID: goldenSpace, Type: TypeDir, Mtime: goldenTime},
			keys: []string{"id", "mt", "sp", "t", "v"},
		},
		{
			file: "node-trashed.mpk", node: trashed,
			keys: []string{"b", "bt", "ck", "id", "mime", "mt", "n", "p", "props", "s", "sp", "t", "tr", "v"},
		},
		{
			file: "node-unknown.mpk", node: unknown,
			keys: []string{"b", "bt", "ck", "id", "mime", "mt", "n", "p", "props", "s", "sp", "t", "v", "zz-future", "zz-list"},
		},
		{
			file: "space.mpk",
			space: &Space{
				Version: 1, ID: goldenSpace, Type: SpaceProject, Name: "Marketing – EMEA",
				Owner: "3a4b5c6d-7e8f-4a0b-9c1d-2e3f4a5b6c7d", Quota: 10 << 30, Btime: goldenTime,
			},
			keys: []string{"bt", "id", "n", "o", "q", "t", "v"},
		},
		{
			file: "space-unknown.mpk", space: spaceUnknown,
			keys: []string{"bt", "id", "n", "t", "v", "zz-region"},
		},
		{
			// A space record as older code wrote it, with locks and quota
			// reservations inside (now records of their own): this build
			// still reads it, so that backends can move them out.
			file: "space-legacy.mpk",
			space: &Space{
				Version: 1, ID: goldenSpace, Type: SpacePersonal, Name: "Alice", Owner: "alice", Quota: 1 << 30, Btime: goldenTime,
				Locks: []Lock{{
					Token: "opaquelocktoken:5e1f0c2a-9b8d-4e7f-a6b5-c4d3e2f1a0b9", NodeID: goldenFile, User: "alice",
					Owner: "<D:href>alice</D:href>", Created: goldenTime, Expires: goldenTime + 600_000_000_000,
				}},
				Reservations: []Reservation{{ID: goldenBlob, Bytes: 4096, Expires: goldenTime + 3_600_000_000_000}},
			},
			keys: []string{"bt", "id", "locks", "n", "o", "q", "res", "t", "v"},
		},
		{
			file: "lock.mpk",
			lock: &Lock{
				Version: 1, Token: "opaquelocktoken:5e1f0c2a-9b8d-4e7f-a6b5-c4d3e2f1a0b9", NodeID: goldenFolder,
				Path: "/Documents", User: "alice", Owner: "<D:href>mailto:alice@example.com</D:href>", Shared: true,
				Deep: true, Created: goldenTime, Expires: goldenTime + 600_000_000_000,
			},
			keys: []string{"ct", "deep", "exp", "node", "owner", "path", "shared", "tok", "user", "v"},
		},
		{
			file: "reservation.mpk",
			res:  &Reservation{Version: 1, ID: goldenBlob, Bytes: 10 << 20, Expires: goldenTime + 86_400_000_000_000, User: "alice"},
			keys: []string{"b", "exp", "id", "user", "v"},
		},
	}
}

func (c goldenCase) encode() ([]byte, error) {
	switch {
	case c.node != nil:
		return EncodeNode(c.node.Clone())
	case c.lock != nil:
		l := *c.lock
		return EncodeLock(&l)
	case c.res != nil:
		r := *c.res
		return EncodeReservation(&r)
	}
	return EncodeSpace(c.space.Clone())
}

// decode decodes data as the case's kind of record and encodes it again.
func (c goldenCase) decode(data []byte) (got any, reenc []byte, err error) {
	switch {
	case c.node != nil:
		n, err := DecodeNode(data)
		if err != nil {
			return nil, nil, err
		}
		reenc, err = EncodeNode(n.Clone())
		return n, reenc, err
	case c.lock != nil:
		l, err := DecodeLock(data)
		if err != nil {
			return nil, nil, err
		}
		cp := *l
		reenc, err = EncodeLock(&cp)
		return l, reenc, err
	case c.res != nil:
		r, err := DecodeReservation(data)
		if err != nil {
			return nil, nil, err
		}
		cp := *r
		reenc, err = EncodeReservation(&cp)
		return r, reenc, err
	}
	sp, err := DecodeSpace(data)
	if err != nil {
		return nil, nil, err
	}
	reenc, err = EncodeSpace(sp.Clone())
	return sp, reenc, err
}

func (c goldenCase) expect() any {
	switch {
	case c.node != nil:
		return c.node
	case c.lock != nil:
		return c.lock
	case c.res != nil:
		return c.res
	}
	return c.space
}

func TestGolden(t *testing.T) {
	for _, c := range goldenCases() {
		t.Run(c.file, func(t *testing.T) {
			path := filepath.Join("testdata", c.file)
			want, err := c.encode()
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(want, data) {
				t.Errorf("the record encodes to\n%x\nbut %s holds\n%x\nIf the format changed on purpose, run with -update and review the diff.", want, path, data)
			}

			got, reenc, err := c.decode(data)
			if err != nil {
				t.Fatal(err)
			}
			again, _, err := c.decode(reenc)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.expect()) {
				t.Errorf("decoded\n%+v\nwant\n%+v", got, c.expect())
			}
			if !bytes.Equal(reenc, data) {
				t.Errorf("decoding and encoding again gives\n%x\nwant\n%x", reenc, data)
			}
			if !reflect.DeepEqual(again, got) {
				t.Errorf("second decode differs from the first")
			}

			// The wire names, independent of the struct tags.
			var m map[string]msgpack.RawMessage
			if err := msgpack.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			var keys []string
			for k := range m {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if !slices.Equal(keys, c.keys) {
				t.Errorf("record keys %q, want %q", keys, c.keys)
			}
		})
	}
}

// TestGoldenUnknownFields: what a newer version wrote survives a
// read-modify-write by this one: the unknown top-level and checksum fields
// come out of the change byte for byte.
func TestGoldenUnknownFields(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "node-unknown.mpk"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := DecodeNode(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := n.UnknownFields(); !slices.Equal(got, []string{"zz-future", "zz-list"}) {
		t.Errorf("UnknownFields() = %q", got)
	}
	c := n.Clone()
	c.MimeType = "text/plain"
	out, err := EncodeNode(c)
	if err != nil {
		t.Fatal(err)
	}
	var before, after map[string]msgpack.RawMessage
	if err := msgpack.Unmarshal(data, &before); err != nil {
		t.Fatal(err)
	}
	if err := msgpack.Unmarshal(out, &after); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"zz-future", "zz-list"} {
		if !bytes.Equal(before[k], after[k]) {
			t.Errorf("%s: %x after the change, %x before", k, after[k], before[k])
		}
	}
	var ckBefore, ckAfter map[string]msgpack.RawMessage
	if err := msgpack.Unmarshal(before["ck"], &ckBefore); err != nil {
		t.Fatal(err)
	}
	if err := msgpack.Unmarshal(after["ck"], &ckAfter); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ckBefore["sha3-256"], ckAfter["sha3-256"]) || len(ckAfter["sha3-256"]) == 0 {
		t.Errorf("checksums' unknown field: %x after, %x before", ckAfter["sha3-256"], ckBefore["sha3-256"])
	}
	var mime string
	if err := msgpack.Unmarshal(after["mime"], &mime); err != nil || mime != "text/plain" {
		t.Errorf("the change itself was lost: mime %q, %v", mime, err)
	}
}
