package check

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/mpk"
)

// Repair is the second phase of two: it reads a report (the one a check
// just wrote, or one an admin reviewed and trimmed) and acts on its
// findings, class by class in repair order (structure, then content, then
// derived values; tree findings bottom-up). Each repair re-verifies its
// finding under the locks of what it changes, at that moment, and does
// nothing if the finding no longer holds or if what it is about changed
// since the check's cutoff (unless this repair changed it): an old report
// cannot make it undo a user's work. After a check that could not read
// everything, nothing is taken out of the store (every remedy that moves
// something to quarantine is refused); fixes that only add or correct go
// on.

// RepairOptions configure a Repairer.
type RepairOptions struct {
	// Run names this repair (see NewRunID); its files go to RunDir.
	Run string
	// QuarantinePrefix is where quarantined blobs go.
	QuarantinePrefix string
	// Phases limits the repairs to findings of these phases (nil: all).
	Phases []Phase
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Outcome, if not nil, sees the outcome of every finding acted on.
	Outcome func(*Outcome)
	// Limit is the blast-radius guard (guard.go; nil: DefaultLimit): a
	// report whose repair would move or quarantine more is refused with a
	// TooLargeError before anything changes, unless Force is set.
	Limit *Limit
	Force bool
}

// Outcome is what a repair did about one finding.
type Outcome struct {
	Type    string   `json:"type"` // "repair"
	Finding *Finding `json:"finding"`
	// Result is "repaired", "resolved" (nothing left to do: the finding no
	// longer holds), "skipped" (not safe now; Reason says why) or
	// "failed" (Reason is the error).
	Result string `json:"result"`
	Action string `json:"action,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Outcome results.
const (
	Repaired = "repaired"
	Resolved = "resolved"
	Skipped  = "skipped"
	Failed   = "failed"
)

// RepairSummary is the outcome of a repair run.
type RepairSummary struct {
	Type     string    `json:"type"` // "repair-summary"
	Run      string    `json:"run"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// CheckComplete is the report's Complete: when false, nothing was
	// taken out of the store.
	CheckComplete bool           `json:"check_complete"`
	Repaired      int64          `json:"repaired"`
	Resolved      int64          `json:"resolved"`
	Skipped       int64          `json:"skipped"`
	Failed        int64          `json:"failed"`
	NotRepairable int64          `json:"not_repairable"`
	ByCode        map[Code]int64 `json:"repaired_by_code"`
	// Left is the worst severity among findings that were not repaired
	// or resolved.
	Left Severity `json:"left,omitempty"`
	// What went to quarantine.
	QuarantinedBlobs int64 `json:"quarantined_blobs"`
	QuarantinedBytes int64 `json:"quarantined_bytes"`
	MovedFiles       int64 `json:"moved_files"`
	LostAndFound     int64 `json:"lost_and_found"`
}

// ExitCode is the exit code after a repair: by what it left.
func (s *RepairSummary) ExitCode() int { return exitFor(s.Left) }

// Repairer applies reports to a store.
type Repairer struct {
	meta  *mpk.Backend
	blobs blobstore.Store
	opts  RepairOptions
	dir   string

	ctx         context.Context
	cutoff      int64
	allowDelete bool
	man         *manifest
	sum         *RepairSummary
	touched     map[string]bool   // nodes this run changed
	lostFound   map[string]string // space -> lost+found/<run> folder
	emptyDirs   []dirLater        // folder directories to move out once empty
}

type dirLater struct{ sid, id string }

// NewRepairer returns a Repairer; the caller holds the run lock.
func NewRepairer(meta *mpk.Backend, blobs blobstore.Store, opts RepairOptions) (*Repairer, error) {
	if !ValidRunID(opts.Run) {
		return nil, fmt.Errorf("check: repair needs a run id, not %q", opts.Run)
	}
	if opts.QuarantinePrefix == "" {
		opts.QuarantinePrefix = DefaultQuarantinePrefix
	}
	if !strings.HasSuffix(opts.QuarantinePrefix, "/") || hexPair(opts.QuarantinePrefix) {
		return nil, fmt.Errorf("check: quarantine prefix %q must end in / and not start with two hex digits", opts.QuarantinePrefix)
	}
	if opts.Limit == nil {
		l := DefaultLimit
		opts.Limit = &l
	}
	if err := opts.Limit.Validate(); err != nil {
		return nil, err
	}
	return &Repairer{meta: meta, blobs: blobs, opts: opts, dir: RunDir(meta.Root(), opts.Run)}, nil
}

func (rp *Repairer) now() time.Time {
	if rp.opts.Now != nil {
		return rp.opts.Now()
	}
	return time.Now()
}

// Apply acts on the findings of the report at path.
func (rp *Repairer) Apply(ctx context.Context, path string) (*RepairSummary, error) {
	sum, err := ReadReportFile(path, nil)
	if err != nil {
		return nil, err
	}
	if sum == nil {
		return nil, ErrNoSummary
	}
	if !rp.opts.Force {
		b, err := Assess(path, rp.opts.Phases)
		if err != nil {
			return nil, err
		}
		if b.over(*rp.opts.Limit) {
			return nil, &TooLargeError{Blast: b, Limit: *rp.opts.Limit}
		}
	}
	rp.ctx = ctx
	rp.cutoff = sum.Cutoff.UnixNano()
	rp.allowDelete = sum.Complete
	rp.sum = &RepairSummary{Type: "repair-summary", Run: rp.opts.Run, Started: rp.now(), CheckComplete: sum.Complete, ByCode: map[Code]int64{}}
	rp.touched, rp.lostFound = map[string]bool{}, map[string]string{}
	if rp.man, err = openManifest(rp.dir); err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	defer rp.man.close()

	orders := map[int]bool{}
	for _, c := range classes {
		orders[c.order] = true
	}
	for _, o := range slices.Sorted(mapsKeys(orders)) {
		_, err := ReadReportFile(path, func(f *Finding) error {
			if classByCode[f.Code].order != o {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			rp.handle(f)
			return nil
		})
		if err != nil {
			return rp.sum, err
		}
		if o == classByCode[DirOrphan].order {
			rp.removeEmptyDirs()
		}
	}
	rp.sum.Finished = rp.now()
	return rp.sum, nil
}

func mapsKeys(m map[int]bool) func(func(int) bool) {
	return func(yield func(int) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// errSkip is a repair that is not safe now; errResolved one with nothing
// left to do.
type skipError struct{ why string }

func (e *skipError) Error() string { return e.why }

func skip(format string, a ...any) error { return &skipError{why: fmt.Sprintf(format, a...)} }

var errResolved = errors.New("the finding no longer holds")

func (rp *Repairer) handle(f *Finding) {
	o := &Outcome{Type: "repair", Finding: f}
	worst := func() {
		if f.Severity.rank() > rp.sum.Left.rank() {
			rp.sum.Left = f.Severity
		}
	}
	if !f.Repairable || (len(rp.opts.Phases) > 0 && !slices.Contains(rp.opts.Phases, f.Phase)) {
		rp.sum.NotRepairable++
		worst()
		return
	}
	action, err := rp.fix(f)
	o.Action = action
	var se *skipError
	switch {
	case err == nil:
		o.Result = Repaired
		rp.sum.Repaired++
		rp.sum.ByCode[f.Code]++
	case errors.Is(err, errResolved):
		o.Result, o.Reason = Resolved, err.Error()
		rp.sum.Resolved++
	case errors.As(err, &se):
		o.Result, o.Reason = Skipped, se.why
		rp.sum.Skipped++
		worst()
	default:
		o.Result, o.Reason = Failed, err.Error()
		rp.sum.Failed++
		worst()
	}
	if rp.opts.Outcome != nil {
		rp.opts.Outcome(o)
	}
}

// needDelete refuses a remedy that takes something out of the store after
// an incomplete check.
func (rp *Repairer) needDelete() error {
	if !rp.allowDelete {
		return skip("the check could not read everything; nothing is taken out of the store after such a run")
	}
	return nil
}

// fix dispatches a finding to its repair and describes what was done.
func (rp *Repairer) fix(f *Finding) (string, error) {
	if f.Space != "" && metadata.ValidateID(f.Space) != nil {
		return "", fmt.Errorf("bad space id %q", f.Space)
	}
	if f.Node != "" && metadata.ValidateID(f.Node) != nil {
		return "", fmt.Errorf("bad node id %q", f.Node)
	}
	switch f.Code {
	case SpaceIncomplete:
		return rp.fixSpaceIncomplete(f)
	case SpaceRecord:
		return rp.fixSpaceRecord(f)
	case SpaceRoot:
		return rp.fixSpaceRoot(f)
	case NodeOutsideSpace, RecordCorrupt, RecordEmpty, RecordInvalid:
		return rp.fixRecord(f)
	case LinkInvalid, LinkDangling, LinkDuplicate:
		return rp.fixEntry(f)
	case LinkMismatch:
		return rp.fixLinkMismatch(f)
	case DirMissing:
		return rp.fixDirMissing(f)
	case TrashDangling, TrashInvalid:
		return rp.fixTrashItem(f)
	case TrashLinked:
		return rp.fixTrashLinked(f)
	case TrashUnmarked:
		return rp.fixTrashUnmarked(f)
	case TrashEntryMissing:
		return rp.fixTrashEntryMissing(f)
	case ChainBroken, ChainCycle:
		return rp.toLostAndFound(f, f.Facts.From)
	case NodeUnlinked:
		if f.Remedy == RemedyLostAndFound {
			return rp.toLostAndFound(f, nil)
		}
		return rp.fixUnlinkedGarbage(f)
	case NodePending:
		return rp.fixPending(f)
	case PendingDangling:
		return rp.fixPendingDangling(f)
	case DirOrphan:
		return rp.fixDirOrphan(f)
	case TempLeftover, StrayFile, LockStale:
		return rp.fixFile(f)
	case BlobMissing:
		return rp.fixBlobMissing(f)
	case BlobSize:
		return rp.fixBlobSize(f)
	case BlobShared:
		return rp.fixBlobShared(f)
	case BlobOrphan:
		return rp.fixBlobOrphan(f)
	case UploadCorrupt:
		return rp.fixUploadCorrupt(f)
	case UploadStale, UploadOrphan, UploadTailMissing:
		return rp.fixUpload(f)
	case TreeSize, TreeMtime:
		return rp.fixTree(f)
	case RevisionDangling:
		return rp.fixRevision(f)
	case QuotaReservation:
		return rp.fixReservation(f)
	}
	return "", skip("no repair for %s", f.Code)
}

// quarantinePath is where a file below the root goes when a repair takes
// it out.
func (rp *Repairer) quarantinePath(abs string) (string, string, error) {
	root := rp.meta.Root()
	rel, err := filepath.Rel(root, abs)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", "", fmt.Errorf("%s is not below the root", abs)
	}
	dst := filepath.Join(rp.dir, "quarantine", rel)
	for i := 1; exists(dst); i++ {
		dst = filepath.Join(rp.dir, "quarantine", fmt.Sprintf("%s.%d", rel, i))
	}
	return rel, dst, nil
}

// moveOut takes a file of the store to the run's quarantine under the
// locks of keys (of space sid), after verify agrees, with a manifest entry
// first.
func (rp *Repairer) moveOut(f *Finding, sid string, keys []string, abs string, verify func() error) error {
	rel, dst, err := rp.quarantinePath(abs)
	if err != nil {
		return err
	}
	drel, _ := filepath.Rel(rp.meta.Root(), dst)
	logged := false
	err = rp.meta.MoveAside(rp.ctx, sid, keys, abs, dst, func(cur cacheStamp) error {
		if verify != nil {
			if err := verify(); err != nil {
				return err
			}
		}
		logged = true
		return rp.man.add(ManifestEntry{Op: "file", Code: f.Code, From: rel, To: drel, Time: rp.now()})
	})
	if errors.Is(err, os.ErrNotExist) && !logged {
		return errResolved
	}
	if err == nil {
		rp.sum.MovedFiles++
	}
	return err
}

// saveTo is where a record that a repair replaces is kept.
func (rp *Repairer) saveTo(f *Finding, abs string) string {
	rel, dst, err := rp.quarantinePath(abs)
	if err != nil {
		return ""
	}
	drel, _ := filepath.Rel(rp.meta.Root(), dst)
	if exists(abs) {
		if rp.man.add(ManifestEntry{Op: "saved", Code: f.Code, From: rel, To: drel, Time: rp.now()}) != nil {
			return ""
		}
	}
	return dst
}

// hot reports whether a record changed after the check's cutoff in a way
// this repair did not make.
func (rp *Repairer) hot(id string, ctime int64) bool {
	return ctime > rp.cutoff && !rp.touched[id]
}

// touch notes nodes this run changed (records, directories): later repairs
// in the run may act on them although they changed after the check.
func (rp *Repairer) touch(ids ...string) {
	for _, id := range ids {
		if id != "" {
			rp.touched[id] = true
		}
	}
}

// repairRecord is mpk's RepairRecord, noting the record and the folders
// whose directories it bumps as changed by this run.
func (rp *Repairer) repairRecord(sid, id, saveTo string, fn func(mpk.RawRecord) (*metadata.Node, error)) (*metadata.Node, error) {
	old := ""
	n, err := rp.meta.RepairRecord(rp.ctx, sid, id, saveTo, func(r mpk.RawRecord) (*metadata.Node, error) {
		if r.Node != nil {
			old = r.Node.ParentID
		}
		return fn(r)
	})
	if n != nil {
		rp.touch(id, n.ParentID, old)
	}
	return n, err
}

// updateNode is UpdateNode, noting the record and its folder as changed.
func (rp *Repairer) updateNode(sid, id string, fn func(*metadata.Node) error) (*metadata.Node, error) {
	n, err := rp.meta.UpdateNode(rp.ctx, sid, id, fn)
	if err == nil {
		rp.touch(id, n.ParentID)
	}
	return n, err
}
