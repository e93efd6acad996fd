package check

import (
	"slices"
	"sync"
	"time"
)

// Summary is the outcome of a run: what was looked at, what was found, and
// where the bytes are. It is the last record of an NDJSON report.
type Summary struct {
	Type     string    `json:"type"` // "summary"
	Run      string    `json:"run,omitempty"`
	Started  time.Time `json:"started"`
	Cutoff   time.Time `json:"cutoff"`
	Finished time.Time `json:"finished"`
	Space    string    `json:"space,omitempty"`
	Path     string    `json:"path,omitempty"`
	Phases   []Phase   `json:"phases"`
	// Complete: the run finished and every listing and read succeeded.
	// Repair deletes nothing after an incomplete run.
	Complete bool `json:"complete"`
	// Aborted says why the run stopped early, if it did.
	Aborted      string   `json:"aborted,omitempty"`
	Errors       int64    `json:"errors"`
	ErrorSamples []string `json:"error_samples,omitempty"`
	// Skipped counts suspicious values that changed while the check
	// looked (operations in flight) and so were not reported; the next
	// run sees them settled.
	Skipped  int64    `json:"skipped"`
	Findings int64    `json:"findings"`
	Worst    Severity `json:"worst,omitempty"`
	// Counts and Bytes per code, over all spaces.
	Counts map[Code]int64 `json:"counts"`
	Bytes  map[Code]int64 `json:"bytes"`

	Nodes   int64 `json:"nodes"`
	Folders int64 `json:"folders"`
	Files   int64 `json:"files"`
	// Blobs and BlobBytes: what the blob listing showed.
	Blobs     int64 `json:"blobs"`
	BlobBytes int64 `json:"blob_bytes"`

	Spaces map[string]*SpaceSummary `json:"spaces"`

	// Seconds each step took: "spaces" (the walks and scans of every
	// space, including the settle waits), "uploads", "blobs" (the merge
	// with the listing).
	Seconds map[string]float64 `json:"seconds,omitempty"`

	mu sync.Mutex
}

// SpaceSummary is one space's part of a Summary.
type SpaceSummary struct {
	Nodes   int64 `json:"nodes"`
	Folders int64 `json:"folders"`
	Files   int64 `json:"files"`
	// LiveBytes are the file bytes reachable from the root, TrashBytes
	// those in the trash, LostBytes those nothing reaches (detached or
	// unlinked nodes), UploadBytes those stored by upload sessions so far.
	LiveBytes   int64 `json:"live_bytes"`
	TrashBytes  int64 `json:"trash_bytes"`
	LostBytes   int64 `json:"lost_bytes"`
	UploadBytes int64 `json:"upload_bytes"`
	// BlobBytes are the bytes listed under the space's prefix, of which
	// OrphanBytes nobody references; MissingBytes are recorded sizes of
	// blobs that are not there.
	Blobs        int64          `json:"blobs"`
	BlobBytes    int64          `json:"blob_bytes"`
	OrphanBytes  int64          `json:"orphan_bytes"`
	MissingBytes int64          `json:"missing_bytes"`
	Counts       map[Code]int64 `json:"counts,omitempty"`
	Bytes        map[Code]int64 `json:"bytes,omitempty"`
}

func newSummary(start time.Time, o Options) *Summary {
	phases := o.Phases
	if len(phases) == 0 {
		phases = AllPhases
	}
	return &Summary{Type: "summary", Started: start, Cutoff: start, Space: o.Space, Path: o.Path,
		Phases: slices.Clone(phases), Counts: map[Code]int64{}, Bytes: map[Code]int64{}, Spaces: map[string]*SpaceSummary{}}
}

func (s *Summary) space(sid string) *SpaceSummary {
	ss := s.Spaces[sid]
	if ss == nil {
		ss = &SpaceSummary{}
		s.Spaces[sid] = ss
	}
	return ss
}

// update changes a space's numbers under the summary's lock.
func (s *Summary) update(sid string, fn func(*SpaceSummary)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s.space(sid))
}

func (s *Summary) add(f *Finding) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Findings++
	s.Counts[f.Code]++
	s.Bytes[f.Code] += f.Bytes
	if f.Severity.rank() > s.Worst.rank() {
		s.Worst = f.Severity
	}
	if f.Space != "" {
		ss := s.space(f.Space)
		if ss.Counts == nil {
			ss.Counts, ss.Bytes = map[Code]int64{}, map[Code]int64{}
		}
		ss.Counts[f.Code]++
		ss.Bytes[f.Code] += f.Bytes
		switch f.Code {
		case BlobOrphan:
			ss.OrphanBytes += f.Bytes
		case BlobMissing:
			ss.MissingBytes += f.Bytes
		}
	}
}

const maxErrorSamples = 20

func (s *Summary) readError(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Errors++
	if len(s.ErrorSamples) < maxErrorSamples {
		s.ErrorSamples = append(s.ErrorSamples, msg)
	}
}

func (s *Summary) took(step string, since time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Seconds == nil {
		s.Seconds = map[string]float64{}
	}
	s.Seconds[step] = time.Since(since).Seconds()
}

func (s *Summary) skipped(n int64) {
	s.mu.Lock()
	s.Skipped += n
	s.mu.Unlock()
}

func (s *Summary) finish(t time.Time, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Finished = t
	if err != nil {
		s.Aborted = err.Error()
	}
	s.Complete = err == nil && s.Errors == 0
	for _, ss := range s.Spaces {
		s.Nodes += ss.Nodes
		s.Folders += ss.Folders
		s.Files += ss.Files
		s.Blobs += ss.Blobs
		s.BlobBytes += ss.BlobBytes
	}
}

// Exit codes of a check, by the worst thing found.
const (
	ExitClean      = 0 // nothing found
	ExitWarnings   = 1 // warnings only
	ExitErrors     = 2 // at least one error
	ExitIncomplete = 3 // the check could not finish, or could not read everything
)

// ExitCode maps the summary to an exit code. After a repair, pass the
// worst severity of the findings it left (see RepairSummary.Left).
func (s *Summary) ExitCode() int {
	if !s.Complete {
		return ExitIncomplete
	}
	return exitFor(s.Worst)
}

func exitFor(w Severity) int {
	switch w {
	case Error:
		return ExitErrors
	case Warning:
		return ExitWarnings
	}
	return ExitClean
}
