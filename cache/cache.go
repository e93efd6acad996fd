package cache

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"golang.org/x/sync/singleflight"
)

// Mode says how a hit is validated.
type Mode int

const (
	// Strict validates every hit with one stat(2) of the entry's file. A
	// change made by any process, on any host, is seen on the next read
	// once the filesystem shows it to stat (see the package doc for NFS).
	Strict Mode = iota
	// Relaxed serves a hit without a stat if the entry was validated less
	// than MaxStale ago. Within that window changes made elsewhere are not
	// seen: reads are not coherent, by design.
	Relaxed
)

func (m Mode) String() string {
	switch m {
	case Strict:
		return "strict"
	case Relaxed:
		return "relaxed"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode parses "strict" or "relaxed".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "strict", "":
		return Strict, nil
	case "relaxed":
		return Relaxed, nil
	}
	return 0, fmt.Errorf("cache: unknown mode %q (want strict or relaxed)", s)
}

// Options configure a Cache.
type Options struct {
	// MaxBytes bounds the estimated memory of all entries. 0 disables the
	// cache: every Get misses and Put keeps nothing.
	MaxBytes int64
	// ExpectedEntries sizes the admission counters (10 per entry); 0 derives
	// it from MaxBytes assuming entries of about 512 bytes.
	ExpectedEntries int64
	Mode            Mode
	// MaxStale is how long a Relaxed hit is served without a stat.
	MaxStale time.Duration
}

// DefaultOptions: 256 MiB, strict.
func DefaultOptions() Options {
	return Options{MaxBytes: 256 << 20, Mode: Strict, MaxStale: time.Second}
}

// Validate rejects unusable options.
func (o Options) Validate() error {
	switch {
	case o.MaxBytes < 0:
		return errors.New("cache: MaxBytes must not be negative")
	case o.ExpectedEntries < 0:
		return errors.New("cache: ExpectedEntries must not be negative")
	case o.Mode != Strict && o.Mode != Relaxed:
		return fmt.Errorf("cache: unknown mode %d", int(o.Mode))
	case o.Mode == Relaxed && o.MaxStale <= 0:
		return errors.New("cache: relaxed mode needs a positive MaxStale")
	}
	return nil
}

// Entry is a cached value with the stamp of the file it was read from.
// Entries are immutable once stored, except for the time of their last
// validation.
type Entry[V any] struct {
	Path  Path  // the file whose stamp validates the entry
	Stamp Stamp // its stamp when Value was read
	Value V

	checked atomic.Int64 // monotonic ns of the last successful validation
}

// Stats are the cache's counters since it was created.
type Stats struct {
	Hits      uint64 // served (validated, or within MaxStale in relaxed mode)
	Misses    uint64 // no entry
	Stale     uint64 // an entry whose file changed or vanished; dropped
	Evictions uint64 // entries pushed out by the memory bound
	Fills     uint64 // loads performed (after single-flight merging)
}

// Cache maps string keys to stamp-validated values, bounded by an estimate
// of their memory. It is safe for concurrent use.
type Cache[V any] struct {
	opts     Options
	r        *ristretto.Cache[string, *Entry[V]]
	sf       singleflight.Group
	maxStale int64

	hits, misses, stale, evictions, fills atomic.Uint64
}

// entryOverhead estimates what one entry costs beyond its value: the Entry,
// the ristretto item and its map slots, and the key.
const entryOverhead = 160

// New creates a cache.
func New[V any](opts Options) (*Cache[V], error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	c := &Cache[V]{opts: opts, maxStale: int64(opts.MaxStale)}
	if opts.MaxBytes == 0 {
		return c, nil
	}
	n := opts.ExpectedEntries
	if n == 0 {
		n = max(opts.MaxBytes/512, 1024)
	}
	r, err := ristretto.NewCache(&ristretto.Config[string, *Entry[V]]{
		NumCounters:        10 * n,
		MaxCost:            opts.MaxBytes,
		BufferItems:        64,
		IgnoreInternalCost: true,
		OnEvict:            func(*ristretto.Item[*Entry[V]]) { c.evictions.Add(1) },
	})
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	c.r = r
	return c, nil
}

// Close releases the cache's goroutines.
func (c *Cache[V]) Close() {
	if c.r != nil {
		c.r.Close()
	}
}

// Get returns the entry for key if it is still valid: in strict mode its
// file's stamp equals the stored stamp right now. A stale entry is dropped
// and reported as a miss.
func (c *Cache[V]) Get(key string) (*Entry[V], bool) {
	if c.r == nil {
		c.misses.Add(1)
		return nil, false
	}
	e, ok := c.r.Get(key)
	if !ok {
		c.misses.Add(1)
		return nil, false
	}
	if !c.validate(e) {
		c.stale.Add(1)
		c.r.Del(key)
		return nil, false
	}
	c.hits.Add(1)
	return e, true
}

func (c *Cache[V]) validate(e *Entry[V]) bool {
	if c.opts.Mode == Relaxed {
		if now := monotonic(); now-e.checked.Load() < c.maxStale {
			return true
		}
	}
	st, err := e.Path.Stat()
	if err != nil || st != e.Stamp {
		return false
	}
	if c.opts.Mode == Relaxed {
		e.checked.Store(monotonic())
	}
	return true
}

// Put stores value, read from the file at path whose stamp was st before the
// read began. cost is the value's estimated size in bytes.
func (c *Cache[V]) Put(key string, path Path, st Stamp, value V, cost int64) *Entry[V] {
	e := &Entry[V]{Path: path, Stamp: st, Value: value}
	e.checked.Store(monotonic())
	if c.r != nil {
		c.r.Set(key, e, cost+int64(len(key))+int64(len(path.c))+entryOverhead)
	}
	return e
}

// Loader reads a value and reports the path and stamp that validate it and
// its estimated size. It must take the stamp before reading the value, so
// that a value is never older than its stamp.
type Loader[V any] func() (path Path, st Stamp, value V, cost int64, err error)

// GetOrLoad returns a valid entry for key, loading it on a miss. Concurrent
// misses on one key share a single load.
func (c *Cache[V]) GetOrLoad(key string, load Loader[V]) (*Entry[V], error) {
	if e, ok := c.Get(key); ok {
		return e, nil
	}
	for {
		v, err, shared := c.sf.Do(key, func() (any, error) {
			c.fills.Add(1)
			path, st, value, cost, err := load()
			if err != nil {
				return nil, err
			}
			return c.Put(key, path, st, value, cost), nil
		})
		if err != nil {
			return nil, err
		}
		e := v.(*Entry[V])
		// A load we joined may have taken its stamp before a write that
		// finished before our call began; serving it would break
		// read-after-write. Check it once more, and load again if so.
		if !shared || c.opts.Mode == Relaxed || c.validate(e) {
			return e, nil
		}
		c.stale.Add(1)
	}
}

// Invalidate drops key. Writers call it for their own process's benefit;
// other processes find out through the stamp.
func (c *Cache[V]) Invalidate(key string) {
	if c.r != nil {
		c.r.Del(key)
	}
}

// Wait blocks until buffered Puts are applied (for tests and benchmarks).
func (c *Cache[V]) Wait() {
	if c.r != nil {
		c.r.Wait()
	}
}

// Stats returns the counters.
func (c *Cache[V]) Stats() Stats {
	return Stats{
		Hits:      c.hits.Load(),
		Misses:    c.misses.Load(),
		Stale:     c.stale.Load(),
		Evictions: c.evictions.Load(),
		Fills:     c.fills.Load(),
	}
}

// Mode returns the validation mode.
func (c *Cache[V]) Mode() Mode { return c.opts.Mode }

// GetUnchecked returns the entry for key without validating it: for callers
// that validate entries themselves (path caches, whose validity depends on
// more than one file). Hits and misses are not counted; use Count.
func (c *Cache[V]) GetUnchecked(key string) (*Entry[V], bool) {
	if c.r == nil {
		return nil, false
	}
	return c.r.Get(key)
}

// Count records the outcome of a lookup validated by the caller.
func (c *Cache[V]) Count(hit, stale bool) {
	switch {
	case hit:
		c.hits.Add(1)
	case stale:
		c.stale.Add(1)
	default:
		c.misses.Add(1)
	}
}

// Fresh reports whether a relaxed-mode entry may be served without
// validation because it was validated less than MaxStale ago; always false
// in strict mode.
func (c *Cache[V]) Fresh(e *Entry[V]) bool {
	return c.opts.Mode == Relaxed && monotonic()-e.checked.Load() < c.maxStale
}

// Validated records that the caller just validated e.
func (c *Cache[V]) Validated(e *Entry[V]) { e.checked.Store(monotonic()) }
