package check

import (
	"fmt"

	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/mpk"
)

// A space's WebDAV locks and quota reservations are small record files in
// its locks/ and reservations/ directories (metadata/mpk, sets.go). Their
// readers skip what they cannot decode, so nothing there breaks a space;
// the check reports it for removal, with the temp files of writes that did
// not finish. Expired records are not reported: the next write of their
// set prunes them. Reservations go on to the uploads phase, which reports
// those that no upload holds.

// heldQuota is a reservation and where the check found it.
type heldQuota struct {
	res     metadata.Reservation
	file    string  // its record file, or the space record for older ones
	subject subject // what must not change before a repair
}

// stateFiles checks the files of the space's record sets.
func (sc *spaceCheck) stateFiles() {
	r := sc.r
	err := r.meta.ScanSpaceState(r.ctx, sc.sid, func(e mpk.StateEntry) error {
		switch e.Kind {
		case mpk.EntryTemp:
			sc.tempFile(e.Path)
		case mpk.EntryOther:
			sc.strayFile(e.Path, "")
		case mpk.EntryRecord:
			if e.Err != nil {
				if r.young(e.Stamp.Ctime) {
					return nil // perhaps being written
				}
				sc.strayFile(e.Path, fmt.Sprintf("%d-byte %s record that cannot be read (its readers skip it): %v", e.Bytes, e.Dir, e.Err))
				return nil
			}
			if res := e.Reservation; res != nil && res.Expires > r.cutoff {
				r.mu.Lock()
				r.reservations[sc.sid] = append(r.reservations[sc.sid], heldQuota{res: *res, file: e.Path, subject: stampSubject(e.Path, e.Stamp)})
				r.mu.Unlock()
			}
		}
		return nil
	})
	if err != nil {
		r.readError("locks and reservations of space "+sc.sid, err)
	}
}
