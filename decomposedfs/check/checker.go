package check

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/decomposedfs/check/internal/extsort"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/mpk"
)

// Checker checks one store: a node store on a POSIX volume and the blob
// store that holds its content.
type Checker struct {
	meta  *mpk.Backend
	blobs blobstore.Store
	opts  Options
}

// New returns a Checker. blobs may be nil, which leaves out the blob phase.
func New(meta *mpk.Backend, blobs blobstore.Store, opts Options) (*Checker, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if meta.RecordsInXattr() {
		// The checker reads and repairs record files byte for byte.
		return nil, errors.New("check: node records in extended attributes (metadata/xattr) are not supported: the checker reads mpk record files")
	}
	return &Checker{meta: meta, blobs: blobs, opts: opts}, nil
}

// Sink receives the findings of a run, in report order: per space (in id
// order) the structural findings, trash and tree findings sorted by repair
// order (tree findings deepest first), then upload findings, then blob
// findings in key order. An error from the sink ends the run.
type Sink func(*Finding) error

// Run checks the store and returns the summary. The cutoff (the moment
// before which everything reported was already so) is taken before
// anything is read. Problems reading single items are counted in
// Summary.Errors and do not stop the run; Run returns an error only when
// the check could not go on at all (the root unreadable, ctx ended, the
// sink failed), and then the summary says how far it got.
func (c *Checker) Run(ctx context.Context, sink Sink) (*Summary, error) {
	start := c.opts.now()
	r := &run{
		Checker:      c,
		ctx:          ctx,
		cutoff:       start.UnixNano(),
		sink:         sink,
		sum:          newSummary(start, c.opts),
		wanted:       map[string]*Finding{},
		uploads:      map[string]upload{},
		reservations: map[string][]heldQuota{},
		known:        map[string]bool{},
	}
	r.lim = newLimiter(c.opts.RequestRate)
	r.global = newHolder(r, "")
	r.blobHold = newHolder(r, "")
	stopProgress := r.startProgress()
	err := r.run()
	stopProgress()
	r.sum.finish(c.opts.now(), err)
	return r.sum, err
}

// run is the state of one Run.
type run struct {
	*Checker
	ctx      context.Context
	cutoff   int64 // ns
	sink     Sink
	sum      *Summary
	lim      *limiter
	global   *holder // findings that belong to no space, and uploads
	blobHold *holder // findings of the blob phase

	refs *extsort.Sorter[ref] // every blob something references; nil without the blob phase

	mu           sync.Mutex             // guards the maps below
	wanted       map[string]*Finding    // node id -> a linked, unreadable file record waiting for its blob
	uploads      map[string]upload      // upload records
	reservations map[string][]heldQuota // space -> its unexpired quota reservations
	known        map[string]bool        // spaces with a record
	spaces       []string               // spaces to check, sorted

	nodes, listed, found atomic.Int64 // progress
	step                 atomic.Value
	spacesDone           atomic.Int64
}

func (r *run) blobPhase() bool { return r.blobs != nil && r.opts.wants(PhaseBlobs) }

func (r *run) run() error {
	r.setStep("spaces")
	if r.blobPhase() || r.opts.wants(PhaseUploads) {
		var err error
		r.refs, err = extsort.New(cmpRef, refCodec, r.sortOptions())
		if err != nil {
			return err
		}
		defer r.refs.Close()
	}
	t0 := time.Now()
	if err := r.scanSpaces(); err != nil {
		return err
	}
	for _, sid := range r.spaces {
		if err := r.checkSpace(sid); err != nil {
			return err
		}
		r.spacesDone.Add(1)
	}
	r.sum.took("spaces", t0)
	if r.opts.Path == "" {
		t0 = time.Now()
		r.setStep("uploads")
		if err := r.scanUploads(); err != nil {
			return err
		}
		r.checkReservations()
		r.sum.took("uploads", t0)
	}
	if err := r.global.flush(); err != nil {
		return err
	}
	if r.blobPhase() {
		t0 = time.Now()
		r.setStep("blobs")
		if err := r.checkBlobs(); err != nil {
			return err
		}
		if err := r.blobHold.flush(); err != nil {
			return err
		}
		r.sum.took("blobs", t0)
	} else if r.refs != nil {
		r.refs.Close()
	}
	// Unreadable file records whose blob the blob phase looked for.
	var deferred []*Finding
	for _, f := range r.wanted {
		deferred = append(deferred, f)
	}
	slices.SortFunc(deferred, func(a, b *Finding) int { return compareFindings(a, b) })
	for _, f := range deferred {
		if err := r.emit(f); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) sortOptions() extsort.Options {
	o := extsort.DefaultOptions()
	o.Dir, o.MemoryBytes = r.opts.TempDir, r.opts.SortMemory
	return o
}

// emit counts a finding that survived re-verification and hands it to the
// sink.
func (r *run) emit(f *Finding) error {
	if !r.opts.wants(f.Phase) {
		return nil
	}
	r.found.Add(1)
	r.sum.add(f)
	if r.sink == nil {
		return nil
	}
	if err := r.sink(f); err != nil {
		return fmt.Errorf("check: report: %w", err)
	}
	return nil
}

// readError counts a problem reading something: the run goes on, but the
// summary says it is incomplete, and repair will delete nothing.
func (r *run) readError(what string, err error) {
	r.sum.readError(fmt.Sprintf("%s: %v", what, err))
}

func (r *run) setStep(s string) { r.step.Store(s) }

// scanSpaces finds the spaces to check and reports what lies below the
// spaces directory without being a space.
func (r *run) scanSpaces() error {
	err := r.meta.ScanSpaces(r.ctx, func(e mpk.SpaceEntry) error {
		if r.opts.Space != "" && e.ID != r.opts.Space {
			return nil
		}
		rel := "spaces/" + e.Rel
		switch {
		case e.ID == "":
			f := newFinding(NodeOutsideSpace, RemedyMoveAside)
			f.File = rel
			f.Detail = "not a space directory (spaces/<id[0:2]>/<id>/)"
			r.global.add(f, statSubject(r.meta.Root()+"/"+rel))
		case e.Space != nil:
			r.known[e.ID] = true
			r.spaces = append(r.spaces, e.ID)
			// Reservations that older code kept in the space record (the
			// space's own ones are read with its state files).
			for _, res := range e.Space.Reservations {
				if res.Expires > r.cutoff {
					path := r.meta.SpacePath(e.ID) + "/space.mpk"
					r.reservations[e.ID] = append(r.reservations[e.ID], heldQuota{res: res, file: path, subject: statSubject(path)})
				}
			}
		case errors.Is(e.Err, metadata.ErrNotFound):
			// Created last and deleted first: a create or a delete did
			// not finish. The delete removed the blobs first; what is
			// left of the metadata goes.
			f := newFinding(SpaceIncomplete, RemedyMoveAside)
			f.Space, f.File = e.ID, rel
			f.Detail = "the space directory has no space.mpk"
			dir := r.meta.SpacePath(e.ID)
			r.global.add(f, statSubject(dir), statSubject(dir+"/nodes"), statSubject(dir+"/space.mpk"))
		case errors.Is(e.Err, metadata.ErrCorrupt):
			f := newFinding(SpaceRecord, RemedyRebuildSpace)
			f.Space, f.File = e.ID, rel+"/space.mpk"
			f.Detail = fmt.Sprintf("space record unreadable (%d bytes): %v", e.RecordBytes, e.Err)
			r.global.add(f, statSubject(r.meta.SpacePath(e.ID)+"/space.mpk"))
			r.known[e.ID] = true
			r.spaces = append(r.spaces, e.ID) // its nodes are real
		default:
			r.readError("space "+e.ID, e.Err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	slices.Sort(r.spaces)
	if r.opts.Space != "" && len(r.spaces) == 0 && r.opts.Path != "" {
		return fmt.Errorf("check: %w: space %s", metadata.ErrNotFound, r.opts.Space)
	}
	return nil
}

// startProgress calls the Progress option periodically until the returned
// function is called.
func (r *run) startProgress() func() {
	if r.opts.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				r.opts.Progress(r.progress(true))
				return
			case <-t.C:
				r.opts.Progress(r.progress(false))
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func (r *run) progress(done bool) Progress {
	step, _ := r.step.Load().(string)
	if done {
		step = "done"
	}
	return Progress{Step: step, Spaces: int(r.spacesDone.Load()), Nodes: r.nodes.Load(),
		Blobs: r.listed.Load(), Findings: r.found.Load(), BlobsDone: done}
}
