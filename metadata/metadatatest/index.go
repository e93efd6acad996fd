package metadatatest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/metadata"
)

// Space indexes follow owners, types and root grants, and forget deleted
// spaces and expired or denying grants.
func testSpaceIndexes(t *testing.T, s *store) {
	by := func(b metadata.Backend, idx metadata.SpaceIndex, key string) []string {
		t.Helper()
		ids, err := b.SpacesBy(s.ctx, idx, key)
		if err != nil {
			t.Fatalf("SpacesBy(%s, %s): %v", idx, key, err)
		}
		slices.Sort(ids)
		return ids
	}
	a, _ := s.newSpace(s.b)
	c, _ := s.newSpace(s.b)
	if got := by(s.second(), metadata.IndexOwner, a.Owner); !slices.Equal(got, []string{a.ID}) {
		t.Fatalf("by owner: %v, want [%s]", got, a.ID)
	}
	if got := by(s.b, metadata.IndexType, "project"); !slices.Contains(got, a.ID) || !slices.Contains(got, c.ID) {
		t.Fatalf("by type: %v", got)
	}
	member := "user:" + uuid.NewString()
	now := time.Now().UnixNano()
	if _, err := s.b.UpdateSpace(s.ctx, a.ID, func(sp *metadata.Space) error {
		sp.Owner = "someone-else"
		sp.Grants = append(sp.Grants,
			metadata.Grant{ID: "g1", NodeID: a.ID, Grantee: member, Role: "viewer", Created: now},
			metadata.Grant{ID: "g2", NodeID: a.ID, Grantee: "group:gone", Role: "viewer", Created: now, Expires: now - 1},
			metadata.Grant{ID: "g3", NodeID: a.ID, Grantee: "group:denied", Role: "viewer", Created: now, Deny: true})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	b2 := s.second()
	if got := by(b2, metadata.IndexOwner, a.Owner); len(got) != 0 {
		t.Fatalf("old owner still indexed: %v", got)
	}
	if got := by(b2, metadata.IndexOwner, "someone-else"); !slices.Equal(got, []string{a.ID}) {
		t.Fatalf("new owner: %v", got)
	}
	if got := by(b2, metadata.IndexMember, member); !slices.Equal(got, []string{a.ID}) {
		t.Fatalf("member: %v", got)
	}
	for _, k := range []string{"group:gone", "group:denied"} {
		if got := by(b2, metadata.IndexMember, k); len(got) != 0 {
			t.Fatalf("%s indexed as member: %v", k, got)
		}
	}
	if err := s.b.DeleteSpace(s.ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if got := by(s.b, metadata.IndexMember, member); len(got) != 0 {
		t.Fatalf("deleted space still indexed: %v", got)
	}
	if got := by(s.b, metadata.IndexOwner, "nobody-"+uuid.NewString()); len(got) != 0 {
		t.Fatalf("unknown key: %v", got)
	}
}
