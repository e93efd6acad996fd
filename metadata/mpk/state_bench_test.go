package mpk_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/metadata"
)

// What a space's locks and reservations cost (sets.go). ReadLocks is asked
// by every mutation whether anything is locked: compare it with ReadSpace,
// which was that question's answer when locks lived in the space record.
// The writes are a LOCK then UNLOCK, a reservation then its release, and a
// lock refresh.
func BenchmarkState(b *testing.B) {
	ctx := context.Background()
	lock := func(path string) metadata.Lock {
		now := time.Now().UnixNano()
		return metadata.Lock{Token: "opaquelocktoken:" + uuid.NewString(), NodeID: uuid.NewString(), Path: path, User: "u",
			Owner: "<D:href>u</D:href>", Created: now, Expires: now + int64(time.Hour)}
	}
	for _, held := range []int{0, 10, 1000} {
		b.Run(fmt.Sprintf("ReadLocks-hot/%d-locks", held), func(b *testing.B) {
			be, sid := benchStore(b, nil)
			for i := range held {
				l := lock(fmt.Sprintf("/f%d", i))
				if err := be.UpdateLocks(ctx, sid, func([]metadata.Lock) (metadata.LockEdit, error) {
					return metadata.LockEdit{Put: []metadata.Lock{l}}, nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			be.ReadLocks(ctx, sid)
			be.WaitCache()
			b.ResetTimer()
			for b.Loop() {
				if ls, err := be.ReadLocks(ctx, sid); err != nil || len(ls) != held {
					b.Fatal(len(ls), err)
				}
			}
		})
	}
	b.Run("ReadSpace-hot", func(b *testing.B) {
		be, sid := benchStore(b, nil)
		be.ReadSpace(ctx, sid)
		be.WaitCache()
		b.ResetTimer()
		for b.Loop() {
			if _, err := be.ReadSpace(ctx, sid); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, held := range []int{0, 100} {
		b.Run(fmt.Sprintf("Lock+Unlock/%d-locks", held), func(b *testing.B) {
			be, sid := benchStore(b, nil)
			for i := range held {
				l := lock(fmt.Sprintf("/f%d", i))
				be.UpdateLocks(ctx, sid, func([]metadata.Lock) (metadata.LockEdit, error) {
					return metadata.LockEdit{Put: []metadata.Lock{l}}, nil
				})
			}
			b.ResetTimer()
			for b.Loop() {
				l := lock("/x")
				if err := be.UpdateLocks(ctx, sid, func(ls []metadata.Lock) (metadata.LockEdit, error) {
					return metadata.LockEdit{Put: []metadata.Lock{l}}, nil
				}); err != nil {
					b.Fatal(err)
				}
				if err := be.UpdateLocks(ctx, sid, func([]metadata.Lock) (metadata.LockEdit, error) {
					return metadata.LockEdit{Delete: []string{l.Token}}, nil
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("Refresh", func(b *testing.B) {
		be, sid := benchStore(b, nil)
		l := lock("/x")
		for b.Loop() {
			l.Expires++
			if err := be.UpdateLocks(ctx, sid, func([]metadata.Lock) (metadata.LockEdit, error) {
				return metadata.LockEdit{Put: []metadata.Lock{l}}, nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Reserve+Release", func(b *testing.B) {
		be, sid := benchStore(b, nil)
		for b.Loop() {
			r := metadata.Reservation{ID: uuid.NewString(), Bytes: 1, Expires: time.Now().Add(time.Hour).UnixNano(), User: "u"}
			if err := be.UpdateReservations(ctx, sid, func([]metadata.Reservation) (metadata.ReservationEdit, error) {
				return metadata.ReservationEdit{Put: []metadata.Reservation{r}}, nil
			}); err != nil {
				b.Fatal(err)
			}
			if err := be.UpdateReservations(ctx, sid, func([]metadata.Reservation) (metadata.ReservationEdit, error) {
				return metadata.ReservationEdit{Delete: []string{r.ID}}, nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	// What every LOCK, UNLOCK, reservation and release cost before: a
	// read-modify-write of the space record.
	b.Run("UpdateSpace", func(b *testing.B) {
		be, sid := benchStore(b, nil)
		for b.Loop() {
			if _, err := be.UpdateSpace(ctx, sid, func(s *metadata.Space) error { s.Description += "x"; return nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
}
