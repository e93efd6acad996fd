package volprobe

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/s3dfs/s3dfs/blobstore"
)

// Options configure a Monitor. Start from DefaultOptions.
type Options struct {
	// Root is the metadata root (mpk's root directory).
	Root string
	// Witness is the store that every process sharing Root shares too: the
	// S3 bucket of the blobs. Only keys below Prefix are touched.
	Witness blobstore.Store
	// Prefix is where the announcements live in Witness.
	Prefix string
	// Kind names the kind of process in its announcement ("serve",
	// "doctor"); it is shown to the others, nothing more.
	Kind string
	// Interval is the time between two rounds.
	Interval time.Duration
	// MaxStale is how late a change may show on the volume: 0 for the
	// strict cache mode (at once), the relaxed mode's bound otherwise.
	MaxStale time.Duration
	// StaleCap bounds how long one look at a peer's files waits for them to
	// show what the witness says; a longer staleness is reported as "more
	// than StaleCap".
	StaleCap time.Duration
	// Grace is added to three of a peer's intervals before the peer counts
	// as dead; it also delays the verdict "unverified" after the witness
	// fails. It covers clock ticks of the witness and slow rounds.
	Grace time.Duration
	// Recover is how many rounds in a row must pass after a failure before
	// Err is nil again.
	Recover int
	// NeedDirFsync makes a failing directory fsync a failure (the
	// durability level fsync needs it) rather than a warning.
	NeedDirFsync bool
	// Logger gets the verdict's changes; nil means slog.Default().
	Logger *slog.Logger
	// LogOnly tells the monitor that its caller does not refuse writes
	// for a failing verdict (s3dfs serve --volume-checks warn), so that the
	// log says so.
	LogOnly bool

	// look replaces the way a peer's files are read (tests simulate a
	// volume that shows changes late with it).
	look lookFunc
	// afterRound, if set, is called after each round with its result.
	afterRound func(Round)
}

// DefaultPrefix is the default Options.Prefix. It is not a space id (no
// two hex digits first), so the checker of the blob store ignores it.
const DefaultPrefix = "s3dfs-volume/"

// DefaultOptions returns the defaults for a monitor of root.
func DefaultOptions(root string, witness blobstore.Store) Options {
	return Options{
		Root:     root,
		Witness:  witness,
		Prefix:   DefaultPrefix,
		Kind:     "serve",
		Interval: 5 * time.Second,
		StaleCap: 5 * time.Second,
		Grace:    2 * time.Second,
		Recover:  2,
	}
}

// Interval bounds: a round costs three requests to the witness, so rounds
// much faster than this are a load, and much slower ones leave a broken
// volume unnoticed for too long.
const (
	MinInterval = 10 * time.Millisecond
	MaxInterval = 10 * time.Minute
)

// Validate reports what is wrong with o, in words for whoever configured it.
func (o Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("volprobe: options: "+format, args...))
	}
	if o.Root == "" {
		bad("Root is empty")
	}
	if o.Witness == nil {
		bad("Witness is nil: the processes need a store they all share (the bucket)")
	}
	if err := blobstore.ValidatePrefix(o.Prefix); err != nil || o.Prefix == "" || o.Prefix[len(o.Prefix)-1] != '/' {
		bad("Prefix %q must be a key prefix ending in \"/\"", o.Prefix)
	}
	if o.Interval < MinInterval || o.Interval > MaxInterval {
		bad("Interval %v is outside [%v, %v]", o.Interval, MinInterval, MaxInterval)
	}
	if o.MaxStale < 0 {
		bad("MaxStale %v is negative", o.MaxStale)
	}
	if o.StaleCap <= o.MaxStale {
		bad("StaleCap %v must be longer than MaxStale %v", o.StaleCap, o.MaxStale)
	}
	if o.Grace < 0 {
		bad("Grace %v is negative", o.Grace)
	}
	if o.Recover < 1 {
		bad("Recover %d must be at least 1", o.Recover)
	}
	return errors.Join(errs...)
}
