package mpk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
)

// StateDirs are the directories of a space that hold its record sets
// (sets.go), for the checker: both optional.
var StateDirs = []string{locksDir, reservationsDir}

// StateEntry is one name in a space's locks/ or reservations/ directory.
type StateEntry struct {
	Dir  string // "locks" or "reservations"
	Name string
	Path string
	Kind EntryKind // EntryRecord, EntryTemp or EntryOther
	// Lock or Reservation is the record, for EntryRecord, if it could be
	// read; otherwise Err says why.
	Lock        *metadata.Lock
	Reservation *metadata.Reservation
	Err         error
	Bytes       int
	Stamp       cache.Stamp
}

// ScanSpaceState calls fn for every name in a space's record-set
// directories, reading each record. Missing directories are empty.
func (b *Backend) ScanSpaceState(ctx context.Context, sid string, fn func(StateEntry) error) error {
	if err := validIDs(sid); err != nil {
		return err
	}
	for _, d := range StateDirs {
		dir := b.spacePath(sid) + "/" + d
		if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		err := eachEntry(ctx, dir, func(de fs.DirEntry) error {
			e := StateEntry{Dir: d, Name: de.Name(), Path: dir + "/" + de.Name()}
			e.Kind, _ = ClassifyName(e.Name, de.Type())
			switch e.Kind {
			case EntryRecord:
				fd, data, st, err := readFile(e.Path)
				if errors.Is(err, fs.ErrNotExist) {
					return nil // removed meanwhile
				}
				e.Stamp = st
				if err != nil {
					e.Err = fmt.Errorf("mpk: %w", err)
					break
				}
				closeFD(fd)
				e.Bytes = len(data)
				if d == locksDir {
					e.Lock, e.Err = metadata.DecodeLock(data)
				} else {
					e.Reservation, e.Err = metadata.DecodeReservation(data)
				}
			case EntryTemp:
			default:
				e.Kind = EntryOther
			}
			return fn(e)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
