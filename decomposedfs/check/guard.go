package check

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The blast-radius guard. A repair that would move a large share of a
// store's nodes to lost+found, or quarantine a large share of its blobs,
// is almost never the repair of crash leftovers: a crash leaves a few
// findings per operation that was in flight, so even many crashes leave a
// small share of any store that has grown past a handful of files. A
// large share means the check looked at the store through the wrong lens:
// a wrong or emptied bucket (every file's blob "missing"), a root
// restored from an older backup than its bucket (many blobs "orphaned"),
// a bucket of another store. Repairing then does the damage. So a repair
// over the limit stops before it changes anything and asks for Force.

// Limit bounds what a repair does without Force.
type Limit struct {
	// Share is the largest share (0 to 1) of the checked nodes that may
	// move (to lost+found, or lose a folder entry) and of the listed
	// blobs that may go to quarantine.
	Share float64
	// Floor: a repair that touches at most this many nodes and this many
	// blobs always passes, so that small stores can be repaired.
	Floor int64
}

// DefaultLimit: 5% of the nodes or blobs, above 20 of them. Crash leftovers
// stay far below 5% of a store of any size (they scale with the operations
// in flight, not with the store); a wrong or emptied bucket comes close to
// 100%. 20 leaves room for the leftovers of a crash in a small store.
var DefaultLimit = Limit{Share: 0.05, Floor: 20}

// Validate rejects a limit that cannot work.
func (l Limit) Validate() error {
	if l.Share < 0 || l.Share > 1 {
		return fmt.Errorf("check: limit share %v is not between 0 and 1", l.Share)
	}
	if l.Floor < 0 {
		return fmt.Errorf("check: limit floor %d is negative", l.Floor)
	}
	return nil
}

// Blast is what a report's repair would move or quarantine.
type Blast struct {
	Nodes, NodesTotal int64 // nodes moved or unlinked, of the nodes checked
	Blobs, BlobsTotal int64 // blobs quarantined, of the blobs listed
	// Missing counts the files whose blob is missing, Orphans the blobs
	// nothing references.
	Missing, Orphans int64
}

// over reports whether b exceeds l.
func (b Blast) over(l Limit) bool {
	return (b.Nodes > l.Floor && float64(b.Nodes) > l.Share*float64(b.NodesTotal)) ||
		(b.Blobs > l.Floor && float64(b.Blobs) > l.Share*float64(b.BlobsTotal))
}

// moves reports whether a remedy takes a node out of its place (counted by
// the guard); leftovers nobody sees (temp files, prepared nodes, unlinked
// records without content) are not counted.
func moves(r Remedy) bool {
	return slices.Contains([]Remedy{RemedyLostAndFound, RemedyUnlinkEntry, RemedyRemoveTrashItem}, r)
}

// ErrTooLarge is in the chain of the error of a repair the guard stopped.
var ErrTooLarge = errors.New("check: repair too large")

// TooLargeError is a repair the guard stopped. Nothing was changed.
type TooLargeError struct {
	Blast Blast
	Limit Limit
}

func (e *TooLargeError) Error() string {
	b := e.Blast
	var why []string
	if b.Missing > 0 && b.Missing*2 >= b.Nodes {
		why = append(why, fmt.Sprintf("%d file(s) have no blob in the blob store: is it the right blob store, or was it emptied?", b.Missing))
	}
	if b.Orphans > 0 && b.Orphans*2 >= b.Blobs {
		why = append(why, fmt.Sprintf("%d blob(s) are referenced by nothing: another store's bucket, or a root older than its bucket?", b.Orphans))
	}
	if len(why) == 0 {
		why = append(why, "a problem this large is rarely what a repair should fix")
	}
	return fmt.Sprintf("repair too large: it would move %d of %d nodes (%s) and quarantine %d of %d blobs (%s), more than %s of either (or %d items) that a repair does without --force; %s Nothing was changed",
		b.Nodes, b.NodesTotal, pct(b.Nodes, b.NodesTotal), b.Blobs, b.BlobsTotal, pct(b.Blobs, b.BlobsTotal),
		pct(int64(e.Limit.Share*1e4), 1e4), e.Limit.Floor, strings.Join(why, " "))
}

func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

func pct(n, total int64) string {
	if total <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(total))
}

// Assess reads the report at path and says what its repair would move or
// quarantine, counting the findings a Repairer with these phases would act
// on (nil: all).
func Assess(path string, phases []Phase) (Blast, error) {
	var b Blast
	sum, err := ReadReportFile(path, func(f *Finding) error {
		if !f.Repairable || (len(phases) > 0 && !slices.Contains(phases, f.Phase)) {
			return nil
		}
		switch {
		case f.Remedy == RemedyQuarantineBlob:
			b.Blobs++
			b.Orphans++
		case moves(f.Remedy):
			b.Nodes++
			if f.Code == BlobMissing {
				b.Missing++
			}
		}
		return nil
	})
	if err != nil {
		return b, err
	}
	if sum == nil {
		return b, ErrNoSummary
	}
	b.NodesTotal, b.BlobsTotal = sum.Nodes, sum.Blobs
	return b, nil
}
