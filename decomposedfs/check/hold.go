package check

import (
	"cmp"
	"errors"
	"io/fs"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata/mpk"
	"golang.org/x/sys/unix"
)

// A finding about a live store may be a snapshot of an operation in
// flight: a record whose link is a microsecond away, a folder whose
// propagation step is on its way. Every finding therefore names its
// subjects, the files it was concluded from, with the stamps they had when
// they were read. Before a finding is reported, the holder waits until the
// subjects have been left alone for Options.Settle, and reports the finding
// only if none of them changed meanwhile and none had changed since the
// cutoff. An operation in flight always changes one of them when it lands
// (that is what the stamps protocol of metadata/mpk guarantees), so what is
// reported has stood still.

// subject is a file a finding was concluded from, as it was then.
type subject struct {
	path   string
	st     cache.Stamp
	absent bool
}

func lstatStamp(path string) (cache.Stamp, bool, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return cache.Stamp{}, false, nil
		}
		return cache.Stamp{}, false, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	return cache.StampOf(&st), true, nil
}

// statSubject is path as it is now.
func statSubject(path string) subject {
	st, ok, _ := lstatStamp(path)
	return subject{path: path, st: st, absent: !ok}
}

// recordSubject is a record as ReadRaw found it.
func recordSubject(path string, r mpk.RawRecord) subject {
	if r.State == mpk.RecordMissing {
		return subject{path: path, absent: true}
	}
	return subject{path: path, st: r.Stamp}
}

func stampSubject(path string, st cache.Stamp) subject { return subject{path: path, st: st} }

// moved reports whether the subject changed since the cutoff or since it
// was looked at.
func (s subject) moved(cutoff int64) bool {
	if !s.absent && s.st.Ctime > cutoff {
		return true
	}
	st, ok, err := lstatStamp(s.path)
	if err != nil {
		return true
	}
	if s.absent {
		return ok
	}
	return !ok || st != s.st
}

type held struct {
	f      *Finding
	subj   []subject
	at     time.Time // when the subjects were read
	wanted bool      // an unreadable file record that waits for the blob phase
}

// holder keeps the findings of one space (or of none) until they are
// verified and written out in order.
type holder struct {
	r   *run
	sid string

	mu    sync.Mutex // guards items
	items []held
}

func newHolder(r *run, sid string) *holder { return &holder{r: r, sid: sid} }

// add holds a finding. A subject that changed after the cutoff makes it
// moot at once.
func (h *holder) add(f *Finding, subj ...subject) {
	h.addHeld(held{f: f, subj: subj})
}

func (h *holder) addHeld(it held) {
	for _, s := range it.subj {
		if !s.absent && s.st.Ctime > h.r.cutoff {
			h.r.sum.skipped(1)
			return
		}
	}
	if it.f.Space == "" {
		it.f.Space = h.sid
	}
	it.at = time.Now()
	h.mu.Lock()
	h.items = append(h.items, it)
	full := len(h.items) >= h.r.opts.MaxHeld
	h.mu.Unlock()
	if full {
		// Memory stays bounded; the order of the report is then sorted per
		// batch only, which matters for nothing but reading comfort (the
		// tree repair recomputes bottom-up within a batch, and a batch is
		// emitted only when it is full or the space is done).
		if err := h.flush(); err != nil {
			h.r.readError("report", err)
		}
	}
}

// flush waits for the settle time, drops what moved, and emits the rest in
// report order.
func (h *holder) flush() error {
	h.mu.Lock()
	items := h.items
	h.items = nil
	h.mu.Unlock()
	if len(items) == 0 {
		return nil
	}
	if settle := h.r.opts.Settle; settle > 0 {
		var last time.Time
		for _, it := range items {
			if it.at.After(last) {
				last = it.at
			}
		}
		if d := time.Until(last.Add(settle)); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-h.r.ctx.Done():
				t.Stop()
				return h.r.ctx.Err()
			case <-t.C:
			}
		}
	}
	keep := items[:0]
	for _, it := range items {
		moved := false
		for _, s := range it.subj {
			if s.moved(h.r.cutoff) {
				moved = true
				break
			}
		}
		if moved {
			h.r.sum.skipped(1)
			continue
		}
		keep = append(keep, it)
	}
	keep = dropImplied(keep)
	slices.SortFunc(keep, func(a, b held) int { return compareFindings(a.f, b.f) })
	seen := make(map[findingKey]bool, len(keep))
	for _, it := range keep {
		k := keyOf(it.f)
		if seen[k] {
			continue // a subtree linked twice is walked twice
		}
		seen[k] = true
		if it.wanted && h.r.blobPhase() {
			h.r.mu.Lock()
			h.r.wanted[it.f.Node] = it.f
			h.r.mu.Unlock()
			continue
		}
		if err := h.r.emit(it.f); err != nil {
			return err
		}
	}
	return nil
}

// compareFindings is report order: space, repair order, deeper folders
// first (tree repairs go bottom-up), then by place.
func compareFindings(a, b *Finding) int {
	if c := cmp.Compare(a.Space, b.Space); c != 0 {
		return c
	}
	ca, cb := classByCode[a.Code], classByCode[b.Code]
	if c := cmp.Compare(ca.order, cb.order); c != 0 {
		return c
	}
	if c := cmp.Compare(depthOf(b), depthOf(a)); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Path, b.Path); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Code, b.Code); c != 0 {
		return c
	}
	if c := cmp.Compare(a.File, b.File); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Node, b.Node); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Parent, b.Parent); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Blob, b.Blob); c != 0 {
		return c
	}
	return cmp.Compare(a.Upload, b.Upload)
}

func depthOf(f *Finding) int {
	if f.Facts == nil {
		return 0
	}
	return f.Facts.Depth
}

// findingKey identifies what a finding is about, whatever path led to it.
type findingKey struct {
	code                                    Code
	space, node, parent, name, blob, upload string
	file                                    string
}

func keyOf(f *Finding) findingKey {
	return findingKey{f.Code, f.Space, f.Node, f.Parent, f.Name, f.Blob, f.Upload, f.File}
}

// exists reports whether path exists (without following a last symlink).
func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// dropImplied drops findings another finding explains: the extra link of a
// node linked twice also disagrees with the record's name, which is not a
// second problem.
func dropImplied(items []held) []held {
	type link struct{ node, parent, name string }
	dup := map[link]bool{}
	for _, it := range items {
		if it.f.Code == LinkDuplicate {
			dup[link{it.f.Node, it.f.Parent, it.f.Name}] = true
		}
	}
	if len(dup) == 0 {
		return items
	}
	return slices.DeleteFunc(items, func(it held) bool {
		return it.f.Code == LinkMismatch && dup[link{it.f.Node, it.f.Parent, it.f.Name}]
	})
}
