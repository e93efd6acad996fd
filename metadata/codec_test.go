package metadata

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func TestValidateName(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"report.pdf", true},
		{"with space", true},
		{" ", true},
		{"...", true},
		{".hidden", true},
		{"..x", true},
		{"x..", true},
		{`back\slash`, true},
		{"tab\there", true},
		{"new\nline", true},
		{"日本語", true},
		{"e\u0301", true}, // decomposed é: names are bytes, not normalized
		{"😀", true},
		{strings.Repeat("a", MaxNameLen), true},
		{strings.Repeat("é", MaxNameLen/2) + "a", true}, // 255 bytes

		{"", false},
		{".", false},
		{"..", false},
		{"/", false},
		{"a/b", false},
		{"a/", false},
		{"/a", false},
		{"\x00", false},
		{"a\x00b", false},
		{strings.Repeat("a", MaxNameLen+1), false},
		{strings.Repeat("é", MaxNameLen/2+1), false}, // 256 bytes, 128 runes
		{"\xff", false},
		{"a\xc3", false},        // truncated rune
		{"\xed\xa0\x80", false}, // a UTF-16 surrogate encoded as UTF-8
		{"\xc0\xaf", false},     // overlong '/'
	} {
		err := ValidateName(c.name)
		if c.ok && err != nil {
			t.Errorf("ValidateName(%q) = %v, want nil", c.name, err)
		}
		if !c.ok && !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalidName", c.name, err)
		}
	}
}

func TestValidateID(t *testing.T) {
	for _, c := range []struct {
		id string
		ok bool
	}{
		{"5e3b9c1a-0d2f-4a6b-8c7d-9e0f1a2b3c4d", true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"ffffffff-ffff-ffff-ffff-ffffffffffff", true},

		{"", false},
		{"5E3B9C1A-0D2F-4A6B-8C7D-9E0F1A2B3C4D", false}, // upper case
		{"5e3b9c1a-0d2f-4a6b-8c7d-9e0f1a2b3c4D", false},
		{"5e3b9c1a0d2f4a6b8c7d9e0f1a2b3c4d", false},      // no hyphens
		{"5e3b9c1a-0d2f-4a6b-8c7d-9e0f1a2b3c4", false},   // 35 bytes
		{"5e3b9c1a-0d2f-4a6b-8c7d-9e0f1a2b3c4dd", false}, // 37 bytes
		{"5e3b9c1a-0d2f-4a6b-8c7d-9e0f1a2b3c4g", false},  // not hex
		{"5e3b9c1a_0d2f-4a6b-8c7d-9e0f1a2b3c4d", false},  // hyphen missing at 8
		{"5e3b9c1a-0d2f_4a6b-8c7d-9e0f1a2b3c4d", false},  // at 13
		{"5e3b9c1a-0d2f-4a6b_8c7d-9e0f1a2b3c4d", false},  // at 18
		{"5e3b9c1a-0d2f-4a6b-8c7d_9e0f1a2b3c4d", false},  // at 23
		{"5e3b9c1a-0d2f-4a6b-8c7d-9e0f-a2b3c4d", false},  // hyphen where a digit belongs
		{"-5e3b9c1a0d2f-4a6b-8c7d-9e0f1a2b3c4d", false},
		{"{5e3b9c1a-0d2f-4a6b-8c7d-9e0f1a2b3c}", false},
		{"../../../../../../../../../../../etc", false}, // 36 bytes
		{"5e3b9c1a-0d2f-4a6b-8c7d/9e0f1a2b3c4d", false},
		{"5e3b9c1a-0d2f-4a6b-8c7d-9e0f1a2b3c4\x00", false},
		{"5e3b9c1a-0d2f-4a6b-8c7d-9e0f1a2b3cé", false}, // 36 bytes, a 2-byte rune
	} {
		err := ValidateID(c.id)
		if c.ok && err != nil {
			t.Errorf("ValidateID(%q) = %v, want nil", c.id, err)
		}
		if !c.ok && !errors.Is(err, ErrInvalidID) {
			t.Errorf("ValidateID(%q) = %v, want ErrInvalidID", c.id, err)
		}
	}
}

// validFile returns a file node that passes Validate, with every field set.
func validFile() *Node {
	return &Node{
		Version: FormatVersion, ID: goldenFile, SpaceID: goldenSpace, ParentID: goldenFolder,
		Name: "f.txt", Type: TypeFile, Size: 3, BlobID: goldenBlob, Mtime: goldenTime, Btime: 1,
		Checksums: Checksums{SHA1: []byte{1}, MD5: []byte{2}, Adler32: []byte{3}},
		MimeType:  "text/plain", Trashed: 0, Props: map[string]string{"a": "b"},
	}
}

// Each rule of Node.Validate, broken once: every break is ErrCorrupt, and
// EncodeNode refuses to write it.
func TestNodeValidate(t *testing.T) {
	if err := validFile().Validate(); err != nil {
		t.Fatalf("valid file: %v", err)
	}
	root := &Node{Version: 1, ID: goldenSpace, SpaceID: goldenSpace, Type: TypeDir}
	if err := root.Validate(); err != nil {
		t.Fatalf("valid root: %v", err)
	}
	for _, c := range []struct {
		what  string
		spoil func(n *Node)
	}{
		{"version 0", func(n *Node) { n.Version = 0 }},
		{"future version", func(n *Node) { n.Version = FormatVersion + 1 }},
		{"bad id", func(n *Node) { n.ID = "x" }},
		{"bad space id", func(n *Node) { n.SpaceID = strings.ToUpper(goldenSpace) }},
		{"type 0", func(n *Node) { n.Type = 0 }},
		{"type 3", func(n *Node) { n.Type = 3 }},
		{"negative size", func(n *Node) { n.Size = -1 }},
		{"no parent", func(n *Node) { n.ParentID = "" }},
		{"bad parent", func(n *Node) { n.ParentID = "../x" }},
		{"no name", func(n *Node) { n.Name = "" }},
		{"bad name", func(n *Node) { n.Name = "a/b" }},
		{"folder with size", func(n *Node) { n.Type = TypeDir; n.BlobID = "" }},
		{"folder with blob", func(n *Node) { n.Type = TypeDir; n.Size = 0 }},
		{"bad blob id", func(n *Node) { n.BlobID = "blob" }},
		{"root with a parent", func(n *Node) { n.ID = n.SpaceID }},
		{"root that is a file", func(n *Node) { n.ID, n.ParentID, n.Name = n.SpaceID, "", "" }},
	} {
		n := validFile()
		c.spoil(n)
		if err := n.Validate(); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Validate = %v, want ErrCorrupt", c.what, err)
		}
		if c.what == "version 0" {
			continue // EncodeNode fills in the version
		}
		if _, err := EncodeNode(n); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: EncodeNode = %v, want a refusal wrapping ErrCorrupt", c.what, err)
		}
	}
}

func TestSpaceValidate(t *testing.T) {
	valid := func() *Space {
		return &Space{Version: 1, ID: goldenSpace, Type: SpacePersonal, Name: "n", Quota: 1, Btime: 1}
	}
	if err := valid().Validate(); err != nil {
		t.Fatal(err)
	}
	for what, spoil := range map[string]func(s *Space){
		"version 0":      func(s *Space) { s.Version = 0 },
		"future version": func(s *Space) { s.Version = FormatVersion + 1 },
		"bad id":         func(s *Space) { s.ID = "" },
		"bad type":       func(s *Space) { s.Type = "shared" },
		"negative quota": func(s *Space) { s.Quota = -1 },
	} {
		s := valid()
		spoil(s)
		if err := s.Validate(); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Validate = %v, want ErrCorrupt", what, err)
		}
	}
}

// EncodeNode and EncodeSpace fill in a missing version.
func TestEncodeFillsVersion(t *testing.T) {
	n := validFile()
	n.Version = 0
	data, err := EncodeNode(n)
	if err != nil {
		t.Fatal(err)
	}
	if n.Version != FormatVersion {
		t.Errorf("EncodeNode left Version %d", n.Version)
	}
	if d, err := DecodeNode(data); err != nil || d.Version != FormatVersion {
		t.Errorf("decoded %+v, %v", d, err)
	}
	s := &Space{ID: goldenSpace, Type: SpaceProject, Name: "x"}
	if _, err := EncodeSpace(s); err != nil || s.Version != FormatVersion {
		t.Errorf("EncodeSpace: version %d, %v", s.Version, err)
	}
}

// mp builds msgpack bytes for decode tests.
func mp(t *testing.T, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every malformed input is ErrCorrupt, never a panic, never a zero record.
func TestDecodeErrors(t *testing.T) {
	good, err := EncodeNode(validFile())
	if err != nil {
		t.Fatal(err)
	}
	fields := func(change func(m map[string]any)) []byte {
		var m map[string]any
		if err := msgpack.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		change(m)
		return mp(t, m)
	}
	longKey := map[string]any{strings.Repeat("k", 1025): 1}
	cases := map[string][]byte{
		"empty":               nil,
		"nil":                 {0xc0},
		"array":               {0x93, 1, 2, 3},
		"string":              mp(t, "a record"),
		"int key":             {0x81, 0x01, 0x01},
		"nil key":             {0x81, 0xc0, 0x01},
		"key too long":        mp(t, longKey),
		"truncated":           good[:len(good)-1],
		"truncated in header": good[:1],
		"trailing byte":       append(bytes.Clone(good), 0xc0),
		"two records":         append(bytes.Clone(good), good...),
		"map claims more":     append([]byte{0xdf, 0xff, 0xff, 0xff, 0xff}, good[1:]...),
		"too large":           append(bytes.Clone(good), make([]byte, MaxReadSize)...),
		"reserved byte":       {0xc1},
		"type is a string":    fields(func(m map[string]any) { m["t"] = "file" }),
		"size is a string":    fields(func(m map[string]any) { m["s"] = "3" }),
		"props is a list":     fields(func(m map[string]any) { m["props"] = []int{1} }),
		"checksums is int":    fields(func(m map[string]any) { m["ck"] = 1 }),
		"version missing":     fields(func(m map[string]any) { delete(m, "v") }),
		"version 2":           fields(func(m map[string]any) { m["v"] = FormatVersion + 1 }),
		"id missing":          fields(func(m map[string]any) { delete(m, "id") }),
		"name missing":        fields(func(m map[string]any) { delete(m, "n") }),
		"name with slash":     fields(func(m map[string]any) { m["n"] = "a/b" }),
		"bad blob":            fields(func(m map[string]any) { m["b"] = "not-a-uuid" }),
	}
	for what, data := range cases {
		n, err := DecodeNode(data)
		if !errors.Is(err, ErrCorrupt) || n != nil {
			t.Errorf("DecodeNode(%s) = %v, %v; want nil, ErrCorrupt", what, n, err)
		}
		s, err := DecodeSpace(data)
		if !errors.Is(err, ErrCorrupt) || s != nil {
			t.Errorf("DecodeSpace(%s) = %v, %v; want nil, ErrCorrupt", what, s, err)
		}
	}
}

// A record survives encode and decode field by field, unknown fields
// included, and its encoding is one byte sequence, whatever the order in
// which maps were filled.
func TestRoundtripDeterministic(t *testing.T) {
	n := validFile()
	n.Props = map[string]string{}
	for i := range 32 {
		n.Props[fmt.Sprintf("http://example.com/ns:p%02d", i)] = fmt.Sprint(i)
	}
	n.unknown = map[string]msgpack.RawMessage{}
	for i := range 8 {
		n.unknown[fmt.Sprintf("zz-%d", i)] = rawMsgpack(i)
	}
	first, err := EncodeNode(n)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		again, err := EncodeNode(n.Clone())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, first) {
			t.Fatal("two encodings of one record differ")
		}
	}
	d, err := DecodeNode(first)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d, n) {
		t.Errorf("decoded\n%+v\nwant\n%+v", d, n)
	}
}

// Clone is deep: changing the copy leaves the original, and its unknown
// fields, alone; it keeps the unknown fields and drops derived values.
func TestClone(t *testing.T) {
	n := validFile()
	n.unknown = map[string]msgpack.RawMessage{"zz": rawMsgpack(1)}
	n.Checksums.unknown = map[string]msgpack.RawMessage{"sha3": rawMsgpack([]byte{9})}
	n.Seal()
	orig, err := EncodeNode(n.Clone())
	if err != nil {
		t.Fatal(err)
	}
	c := n.Clone()
	if c.etag != "" {
		t.Error("Clone kept the etag")
	}
	if !slices.Equal(c.UnknownFields(), []string{"zz"}) {
		t.Errorf("Clone's unknown fields %q", c.UnknownFields())
	}
	c.Props["a"] = "changed"
	c.Checksums.SHA1[0] = 0xff
	c.unknown["zz"][0] = 0x00
	c.Checksums.unknown["sha3"][0] = 0x00
	after, err := EncodeNode(n.Clone())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(orig, after) {
		t.Error("changing a clone changed the original")
	}
	s := &Space{Version: 1, ID: goldenSpace, Type: SpacePersonal, unknown: map[string]msgpack.RawMessage{"zz": rawMsgpack(1)}}
	sc := s.Clone()
	sc.unknown["zz"][0] = 0
	if s.unknown["zz"][0] == 0 {
		t.Error("changing a space clone changed the original")
	}
}

// A file's etag follows its content (blob, mtime, size), a folder's its
// tree mtime; nothing else moves them.
func TestEtag(t *testing.T) {
	f := validFile()
	base := f.Etag()
	if !strings.HasPrefix(base, `"`) || !strings.HasSuffix(base, `"`) || len(base) != 22 {
		t.Errorf("etag %s is not a quoted 20-digit hex string", base)
	}
	for what, change := range map[string]func(n *Node){
		"blob":  func(n *Node) { n.BlobID = goldenFolder },
		"mtime": func(n *Node) { n.Mtime++ },
		"size":  func(n *Node) { n.Size++ },
	} {
		c := f.Clone()
		change(c)
		if c.Etag() == base {
			t.Errorf("file etag unchanged by a new %s", what)
		}
	}
	c := f.Clone()
	c.MimeType, c.Props, c.Name = "x/y", nil, "renamed"
	if c.Etag() != base {
		t.Error("file etag changed by metadata that is not content")
	}
	d := &Node{Version: 1, ID: goldenFolder, SpaceID: goldenSpace, ParentID: goldenSpace, Name: "d", Type: TypeDir, Tree: TreeStats{Size: 1, Mtime: 5}}
	de := d.Etag()
	d2 := d.Clone()
	d2.Tree.Size, d2.Mtime = 99, 99
	if d2.Etag() != de {
		t.Error("folder etag changed without a new tree mtime")
	}
	d2.Tree.Mtime++
	if d2.Etag() == de {
		t.Error("folder etag unchanged by a new tree mtime")
	}
	sealed := d.Clone()
	sealed.Seal()
	if sealed.Etag() != de {
		t.Error("Seal changed the etag")
	}
	if d.TreeSize() != 1 || f.TreeSize() != f.Size {
		t.Errorf("TreeSize: folder %d, file %d", d.TreeSize(), f.TreeSize())
	}
}
