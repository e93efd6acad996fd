package volprobe

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// observation is what this process sees of a peer's files.
type observation struct {
	statMtime, fstatMtime int64  // the stamp's mtime by path and by the kept descriptor
	statIno, fstatIno     uint64 // to notice a kept descriptor of a replaced file
	xattrSeq, recSeq      uint64 // the stamp's attribute and the record's content
	recMissing            bool   // the record file was not there
}

// lookFunc reads a peer's files: the stamp file by path and through kept
// (an open descriptor of it, nil if none yet), the record file by path.
type lookFunc func(stamp, rec string, kept *os.File) (observation, error)

// look is the real lookFunc. A file that is missing gives an error wrapping
// os.ErrNotExist.
func look(stamp, rec string, kept *os.File) (observation, error) {
	var o observation
	var st unix.Stat_t
	if err := unix.Stat(stamp, &st); err != nil {
		return o, &os.PathError{Op: "stat", Path: stamp, Err: err}
	}
	o.statMtime, o.statIno = st.Mtim.Nano(), st.Ino
	if kept != nil {
		var fst unix.Stat_t
		if err := unix.Fstat(int(kept.Fd()), &fst); err != nil {
			return o, &os.PathError{Op: "fstat", Path: stamp, Err: err}
		}
		o.fstatMtime, o.fstatIno = fst.Mtim.Nano(), fst.Ino
	}
	buf := make([]byte, 32)
	n, err := unix.Getxattr(stamp, xattrName, buf)
	switch {
	case errors.Is(err, unix.ENODATA):
		// The peer's first round has not set it yet: sequence 0.
	case err != nil:
		return o, &os.PathError{Op: "getxattr", Path: stamp, Err: err}
	default:
		if o.xattrSeq, err = strconv.ParseUint(string(buf[:n]), 10, 64); err != nil {
			return o, fmt.Errorf("volprobe: %s of %s: %q is not a sequence number", xattrName, stamp, buf[:n])
		}
	}
	b, err := os.ReadFile(rec)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// Not written yet, or being replaced on a volume whose rename is
		// not atomic: sequence 0.
		o.recMissing = true
	case err != nil:
		return o, err
	default:
		if o.recSeq, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err != nil {
			return o, fmt.Errorf("volprobe: %s: %q is not a sequence number", rec, b)
		}
	}
	return o, nil
}

// lag lists what of o is older than what a announced; empty means o shows
// a's round (or a later one).
func lag(o observation, a *announcement, kept bool) []string {
	var out []string
	if o.statMtime < a.Mtime {
		out = append(out, fmt.Sprintf("mtime by stat %d < %d", o.statMtime, a.Mtime))
	}
	if kept && o.fstatMtime < a.Mtime {
		out = append(out, fmt.Sprintf("mtime by fstat of an open descriptor %d < %d", o.fstatMtime, a.Mtime))
	}
	if o.xattrSeq < a.Seq {
		out = append(out, fmt.Sprintf("xattr round %d < %d", o.xattrSeq, a.Seq))
	}
	switch {
	case o.recMissing && a.Seq > 1:
		out = append(out, "replaced file missing")
	case o.recSeq < a.Seq:
		out = append(out, fmt.Sprintf("replaced file's round %d < %d", o.recSeq, a.Seq))
	}
	return out
}
