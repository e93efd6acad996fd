package check

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/metadata"
)

// Options configure a check.
type Options struct {
	// Phases to report; nil means all. The walk that feeds them is the
	// same whatever is selected (the blob phase needs every record's blob,
	// the tree phase every folder), so selecting fewer phases saves the
	// blob listing at most.
	Phases []Phase
	// Space limits the check to one space (an id); "" checks every space
	// and also looks for what belongs to none.
	Space string
	// Path limits the check to the subtree at this path of Space. Only
	// what can be decided from the subtree alone is reported: links,
	// records, tree sizes, and each file's blob (with a HEAD request per
	// blob instead of a listing). Unlinked records, orphan blobs, the
	// trash and uploads need the whole space and are not looked at.
	Path string

	// Grace: blobs and temp files younger than this (relative to the
	// cutoff) may belong to an operation in flight and are never reported
	// as garbage. An upload's blob appears only when its last byte has
	// arrived and is committed right after, so an hour is generous.
	Grace time.Duration
	// PendingGrace: a prepared node (its record and pending link exist
	// while its upload streams) is abandoned only when older than this.
	// A single PUT of a large file may stream for hours.
	PendingGrace time.Duration
	// ReservationTTL is how long the driver's plain uploads hold quota
	// (decomposedfs.Options.ReservationTTL): a reservation's creation time
	// is its expiry minus this.
	ReservationTTL time.Duration
	// Settle: a suspicious value must stay unchanged this long after it
	// was read before it is reported, so that operations in flight (a
	// propagation racing the walk) can land first.
	Settle time.Duration

	// Workers walk folders concurrently.
	Workers int
	// ListConcurrency is the number of blob listings (by key prefix) in
	// flight; ListRetries how often one is retried after an error, with
	// backoff; ListSplit is the number of referenced blobs above which the
	// listing is split into 256 prefixes.
	ListConcurrency int
	ListRetries     int
	ListSplit       int64
	// RequestRate bounds requests to the blob store per second (a listing
	// page counts as one); 0 means no limit.
	RequestRate float64

	// TempDir holds the external sorts' run files ("" for os.TempDir()).
	TempDir string
	// SortMemory is the memory each external sort may use before it
	// spills to TempDir.
	SortMemory int
	// MaxHeld bounds the findings held in memory for re-verification
	// before they are checked and written out.
	MaxHeld int

	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Progress, if not nil, is called about five times a second.
	Progress func(Progress)
}

// DefaultOptions returns safe settings for a live system.
func DefaultOptions() Options {
	return Options{
		Grace:           time.Hour,
		PendingGrace:    24 * time.Hour,
		ReservationTTL:  decomposedfs.DefaultOptions().ReservationTTL,
		Settle:          2 * time.Second,
		Workers:         8,
		ListConcurrency: 8,
		ListRetries:     5,
		ListSplit:       50_000,
		RequestRate:     500,
		SortMemory:      16 << 20,
		MaxHeld:         100_000,
	}
}

// Validate rejects unusable options.
func (o Options) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("check: "+format, a...)) }
	for _, p := range o.Phases {
		if !slices.Contains(AllPhases, p) {
			bad("unknown phase %q (want %s)", p, phaseList())
		}
	}
	if o.Space != "" && metadata.ValidateID(o.Space) != nil {
		bad("Space %q is not a space id", o.Space)
	}
	if o.Path != "" && o.Space == "" {
		bad("Path needs Space")
	}
	if o.Grace < 0 || o.PendingGrace < 0 || o.Settle < 0 {
		bad("Grace, PendingGrace and Settle must not be negative")
	}
	if o.Workers < 1 || o.Workers > 256 {
		bad("Workers %d is outside [1, 256]", o.Workers)
	}
	if o.ListConcurrency < 1 || o.ListConcurrency > 256 {
		bad("ListConcurrency %d is outside [1, 256]", o.ListConcurrency)
	}
	if o.ListRetries < 0 || o.ListRetries > 100 {
		bad("ListRetries %d is outside [0, 100]", o.ListRetries)
	}
	if o.ListSplit < 0 {
		bad("ListSplit must not be negative")
	}
	if o.RequestRate < 0 {
		bad("RequestRate must not be negative")
	}
	if o.SortMemory < 1<<16 {
		bad("SortMemory %d is below 64 KiB", o.SortMemory)
	}
	if o.MaxHeld < 1 {
		bad("MaxHeld must be positive")
	}
	return errors.Join(errs...)
}

// ParsePhases parses a comma-separated list of phases.
func ParsePhases(s string) ([]Phase, error) {
	var out []Phase
	for p := range strings.SplitSeq(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !slices.Contains(AllPhases, Phase(p)) {
			return nil, fmt.Errorf("unknown phase %q (want %s)", p, phaseList())
		}
		if !slices.Contains(out, Phase(p)) {
			out = append(out, Phase(p))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no phase given (want %s)", phaseList())
	}
	return out, nil
}

func phaseList() string {
	s := make([]string, len(AllPhases))
	for i, p := range AllPhases {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

func (o Options) wants(p Phase) bool { return len(o.Phases) == 0 || slices.Contains(o.Phases, p) }

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Progress is a snapshot of a running check.
type Progress struct {
	Step      string // what the check is doing ("walk <space>", "blobs", ...)
	Spaces    int    // spaces done
	Nodes     int64  // records read
	Blobs     int64  // blobs listed
	Findings  int64
	BlobsDone bool
}
