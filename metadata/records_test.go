package metadata

import (
	"errors"
	"strings"
	"testing"
)

// Every encoder refuses a record over MaxRecordSize with ErrTooLarge, while
// the decoders still read records that older code let grow past it (up to
// MaxReadSize), and such a record may be written back as long as it does
// not grow.
func TestRecordSizeLimits(t *testing.T) {
	huge := strings.Repeat("x", MaxRecordSize)
	n := &Node{ID: goldenFile, SpaceID: goldenSpace, ParentID: goldenFolder, Name: "f", Type: TypeFile, Props: map[string]string{"p": huge}}
	if _, err := EncodeNode(n); !errors.Is(err, ErrTooLarge) {
		t.Errorf("EncodeNode of %d bytes of properties: %v, want ErrTooLarge", len(huge), err)
	}
	u := &Upload{ID: goldenBlob, SpaceID: goldenSpace, ParentID: goldenSpace, NodeID: goldenFile, BlobID: goldenBlob, Name: "u", PartSize: 1, Meta: map[string]string{"m": huge}}
	if _, err := EncodeUpload(u); !errors.Is(err, ErrTooLarge) {
		t.Errorf("EncodeUpload: %v, want ErrTooLarge", err)
	}
	l := &Lock{Token: "t", NodeID: goldenFile, Owner: huge, Expires: 1}
	if _, err := EncodeLock(l); !errors.Is(err, ErrTooLarge) {
		t.Errorf("EncodeLock: %v, want ErrTooLarge", err)
	}

	// A space record as older code could leave it: two locks of 600 000
	// bytes each.
	owner := strings.Repeat("o", 600_000)
	old := &Space{Version: 1, ID: goldenSpace, Type: SpaceProject, Name: "p", Owner: "alice", Btime: 1,
		Locks: []Lock{{Token: "a", NodeID: goldenFile, Owner: owner, Expires: 1}, {Token: "b", NodeID: goldenFile, Owner: owner, Expires: 1}}}
	if _, err := EncodeSpace(old); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("EncodeSpace of an oversized record: %v, want ErrTooLarge", err)
	}
	data, err := encode(old, "old", MaxReadSize) // what older code wrote, unbounded
	if err != nil {
		t.Fatal(err)
	}
	if len(data) <= MaxRecordSize || len(data) > MaxReadSize {
		t.Fatalf("test record of %d bytes", len(data))
	}
	got, err := DecodeSpace(data)
	if err != nil {
		t.Fatalf("DecodeSpace of a %d-byte record of older code: %v", len(data), err)
	}
	if got.Name != "p" || got.Owner != "alice" || got.Type != SpaceProject || len(got.Locks) != 2 {
		t.Errorf("decoded %s/%s/%s with %d locks", got.Type, got.Name, got.Owner, len(got.Locks))
	}
	// Written back no larger: allowed; larger: refused.
	if _, err := EncodeSpaceFrom(got.Clone(), len(data)); err != nil {
		t.Errorf("EncodeSpaceFrom of the same record: %v", err)
	}
	grown := got.Clone()
	grown.Description = "more"
	if _, err := EncodeSpaceFrom(grown, len(data)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("EncodeSpaceFrom of a grown record: %v, want ErrTooLarge", err)
	}
	locks, _ := got.TakeLegacyState(0)
	if b, err := EncodeSpaceFrom(got, len(data)); err != nil || len(b) > 200 {
		t.Errorf("without its locks the record takes %d bytes (%v)", len(b), err)
	}
	if len(locks) != 2 || locks[0].Version != FormatVersion || got.HasLegacyState() {
		t.Errorf("TakeLegacyState: %d locks, record still holds state: %v", len(locks), got.HasLegacyState())
	}
}

// TakeLegacyState drops what has expired and keeps the rest as records.
func TestTakeLegacyState(t *testing.T) {
	s := &Space{
		Locks:        []Lock{{Token: "live", NodeID: goldenFile, Expires: 100}, {Token: "dead", NodeID: goldenFile, Expires: 50}},
		Reservations: []Reservation{{ID: goldenBlob, Bytes: 3, Expires: 100}, {ID: goldenFile, Bytes: 4, Expires: 10}, {ID: "not-an-id", Expires: 100}},
	}
	if got := s.LegacyLocks(60); len(got) != 1 || got[0].Token != "live" || len(s.Locks) != 2 {
		t.Errorf("LegacyLocks = %+v (and the record keeps %d)", got, len(s.Locks))
	}
	locks, res := s.TakeLegacyState(60)
	if len(locks) != 1 || locks[0].Token != "live" || len(res) != 1 || res[0].ID != goldenBlob || res[0].Version != FormatVersion {
		t.Errorf("TakeLegacyState = %+v, %+v", locks, res)
	}
	if s.HasLegacyState() {
		t.Error("the record still holds state")
	}
}
