package volprobe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Monitor proves, round after round, that the volume of its root is safe
// for writes; see the package documentation. Its methods are safe for
// concurrent use.
type Monitor struct {
	opts  Options
	log   *slog.Logger
	w     witness
	host  hostInfo
	self  *self
	me    announcement
	local []Check
	// static are the local checks that failed: every round fails with them.
	static []Problem

	// Owned by the goroutine that runs the rounds (Start's, then loop's).
	peers       map[string]*peer
	orphans     map[string]time.Time // challenge key -> first seen without its challenger
	rr          int                  // round-robin position among the peers
	lastWitness time.Time            // the last round that reached the witness
	announced   bool                 // the last announcement was written
	failing     bool
	passed      int // rounds passed since the last failure
	lastFailed  []Problem
	logged      string    // the failing checks last logged
	loggedAt    time.Time // when

	err    atomic.Pointer[errBox]
	cancel context.CancelFunc
	done   chan struct{}
	closed sync.Once
}

type errBox struct{ err error }

// peer is what a monitor knows of another process.
type peer struct {
	id      string
	ann     *announcement // last fetched; nil until the first fetch
	isNew   bool          // not yet fetched and looked at
	modTime time.Time     // of its announcement in the last listing
	changed time.Time     // when this monitor last saw the announcement change
	kept    *os.File      // its stamp file, for fstat and the flock probe

	challenged         bool // this monitor wrote a challenge to it
	heldOFD, heldFlock bool // what this monitor holds of its locks meanwhile
}

// Start checks the volume of opts.Root (LocalChecks), creates this
// process's probe files, announces it, runs the first round, and keeps
// running rounds every opts.Interval until Close. It returns an error only
// when the probe cannot run at all (a bad option, a root that cannot be
// written); a volume that fails its checks gives a Monitor whose Err says
// so. The first round waits for the answer to a challenge it makes (at
// most the challenged peer's time to live), so that a process that starts
// on an unsafe volume never accepts a write.
func Start(ctx context.Context, opts Options) (*Monitor, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := ensureDir(opts.Root); err != nil {
		return nil, err
	}
	m := &Monitor{
		opts:    opts,
		log:     opts.Logger,
		w:       witness{store: opts.Witness, prefix: opts.Prefix},
		host:    thisHost(),
		peers:   map[string]*peer{},
		orphans: map[string]time.Time{},
		done:    make(chan struct{}),
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.opts.look == nil {
		m.opts.look = look
	}
	m.err.Store(&errBox{&VerdictError{Kind: ErrUnverified, Problems: []Problem{{checkNotYetVerified, "no round has run yet"}}}})
	m.local = LocalChecks(opts.Root, opts.NeedDirFsync)
	for _, c := range m.local {
		switch c.Status {
		case Fail:
			m.static = append(m.static, Problem{c.Name, c.Detail})
		case Warn:
			m.log.WarnContext(ctx, "volume probe: "+c.Name+": "+c.Detail, "root", opts.Root)
		}
	}
	vol, err := volumeID(opts.Root)
	if err != nil {
		return nil, err
	}
	if m.self, err = newSelf(opts.Root); err != nil {
		return nil, err
	}
	started, _ := startTicks(os.Getpid())
	m.me = announcement{
		Version: 1, ID: m.self.id, Kind: opts.Kind, Host: m.host.name, PID: os.Getpid(),
		BootID: m.host.bootID, PIDNS: m.host.pidNS, Started: started,
		Root: opts.Root, Volume: vol, Interval: opts.Interval.Milliseconds(), Lock: m.self.lockOff,
		TTL: m.ownTTL().Milliseconds(),
	}
	if err := m.self.advance(); err != nil {
		m.self.close()
		return nil, err
	}
	// Announce before the first round, so that a challenge this process
	// makes in it names a process the others can find.
	if err := m.announce(ctx); err != nil {
		m.log.WarnContext(ctx, "volume probe: cannot announce this process in the witness", "err", err)
	}
	m.runRound(ctx, true)
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	go m.loop(lctx)
	return m, nil
}

// Err returns nil while the volume is known safe for writes, else a
// *VerdictError that wraps ErrUnsafe or ErrUnverified and says why.
func (m *Monitor) Err() error { return m.err.Load().err }

// LocalChecks returns the checks Start ran on the volume.
func (m *Monitor) LocalChecks() []Check { return slices.Clone(m.local) }

// ID returns this process's probe id (its key in the witness).
func (m *Monitor) ID() string { return m.self.id }

// Close stops the rounds and removes this process's traces: its
// announcement and challenges from the witness, its files from the volume,
// its locks. It is idempotent.
func (m *Monitor) Close(ctx context.Context) error {
	var err error
	m.closed.Do(func() {
		m.cancel()
		<-m.done
		for _, p := range m.peers {
			if p.challenged {
				err = errors.Join(err, m.w.store.Delete(ctx, m.w.challengeKey(p.id, m.self.id)))
			}
			m.forget(p)
		}
		// The announcement goes first: a peer that still finds the files
		// or locks gone then finds the announcement gone too.
		err = errors.Join(err, m.w.store.Delete(ctx, m.w.peerKey(m.self.id)))
		m.self.close()
		m.err.Store(&errBox{&VerdictError{Kind: ErrUnverified, Problems: []Problem{{checkNotYetVerified, "the monitor is closed"}}}})
	})
	return err
}

func (m *Monitor) loop(ctx context.Context) {
	defer close(m.done)
	t := time.NewTicker(m.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.runRound(ctx, false)
		}
	}
}

// runRound runs one round under a deadline and publishes its verdict.
func (m *Monitor) runRound(ctx context.Context, first bool) {
	rctx, cancel := context.WithTimeout(ctx, 2*m.opts.Interval+m.opts.StaleCap+m.ttlFor(nil)+10*time.Second)
	defer cancel()
	start := time.Now()
	r := m.round(rctx, first)
	r.Took = time.Since(start)
	if ctx.Err() != nil {
		return // closing: the round was cut short, its verdict means nothing
	}
	if r.settled {
		m.err.Store(&errBox{m.settle(r.Problems)})
	}
	r.Err = m.Err()
	m.logVerdict(ctx, r)
	if m.opts.afterRound != nil {
		m.opts.afterRound(r.Round)
	}
}

// ttlFor is how long an announcement may stay unchanged before its process
// counts as dead: what it announced (this monitor's own for a peer not
// fetched yet).
func (m *Monitor) ttlFor(a *announcement) time.Duration {
	if a != nil && a.TTL > 0 {
		return time.Duration(a.TTL) * time.Millisecond
	}
	return m.ownTTL()
}

// ownTTL: a round takes up to one look at a peer's files longer than the
// interval, and three rounds may pass without a successful announcement.
func (m *Monitor) ownTTL() time.Duration {
	return 3*(m.opts.Interval+m.opts.StaleCap) + m.opts.Grace
}

// settle turns a round's problems into the verdict.
func (m *Monitor) settle(problems []Problem) error {
	if len(problems) > 0 {
		m.failing, m.passed, m.lastFailed = true, 0, problems
		return &VerdictError{Kind: kindOf(problems), Problems: problems}
	}
	if !m.failing {
		return nil
	}
	m.passed++
	if m.passed >= m.opts.Recover {
		m.failing = false
		return nil
	}
	return &VerdictError{Kind: kindOf(m.lastFailed), Problems: m.lastFailed, Passed: m.passed, Need: m.opts.Recover}
}

// kindOf: problems of the witness alone leave the volume unverified; any
// other proves it unsafe.
func kindOf(problems []Problem) error {
	for _, p := range problems {
		if p.Check != CheckWitness {
			return ErrUnsafe
		}
	}
	return ErrUnverified
}

// logVerdict logs the verdict when the set of failing checks changes (and
// every relogEvery while it fails): an error with every detail when the
// volume fails, a line when it passes again. The details (how late, which
// round) change every round; the checks that fail are what is news.
func (m *Monitor) logVerdict(ctx context.Context, r round) {
	var key string
	var ve *VerdictError
	if errors.As(r.Err, &ve) {
		key = strings.Join(problemChecks(ve.Problems), ", ")
	}
	now := time.Now()
	if key == m.logged && (key == "" || now.Sub(m.loggedAt) < relogEvery) {
		return
	}
	m.logged, m.loggedAt = key, now
	consequence := "writes are refused (503) until it passes again"
	if m.opts.LogOnly {
		consequence = "writes go on (log only)"
	}
	if key == "" {
		m.log.InfoContext(ctx, "volume probe: the metadata volume passes its checks again", "root", m.opts.Root, "rounds", m.opts.Recover)
		return
	}
	var details []string
	for _, p := range ve.Problems {
		details = append(details, p.Check+": "+p.Detail)
	}
	m.log.ErrorContext(ctx, "volume probe: the metadata volume is NOT safe: "+consequence,
		"root", m.opts.Root, "failed", key, "problems", details)
}

// relogEvery is how often a verdict that stays failing is logged again.
const relogEvery = time.Minute

// problemChecks are the names of the checks that problems are about, in
// order of first appearance.
func problemChecks(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		if !contains(out, p.Check) {
			out = append(out, p.Check)
		}
	}
	return out
}

func (m *Monitor) announce(ctx context.Context) error {
	a := m.me
	a.Seq, a.Mtime = m.self.seq, m.self.mtime
	err := m.w.put(ctx, m.w.peerKey(m.self.id), a)
	m.announced = err == nil
	if err != nil {
		return fmt.Errorf("volprobe: announce: %w", err)
	}
	return nil
}
