package mpk

import (
	"errors"
	"fmt"
	"time"

	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
)

// Durability says what a write waits for before it returns (the levels
// of metadata.Durability).
type Durability = metadata.Durability

const (
	// DurabilityNone leaves flushing to the kernel: a crash of the machine
	// (not of the process) may lose recent writes, never tear a record.
	DurabilityNone = metadata.DurabilityNone
	// DurabilityFsync flushes every written record and the directory
	// entries that name it before returning (fdatasync, fsync of the
	// directories). Propagated tree sizes are not flushed on every step:
	// they are derived values, recomputed by check --repair after a crash.
	DurabilityFsync = metadata.DurabilityFsync
)

// ParseDurability parses "none" or "fsync".
func ParseDurability(s string) (Durability, error) { return metadata.ParseDurability(s) }

// Options configure a Backend.
type Options struct {
	// Root is the directory that holds the store (created if missing).
	Root       string
	Durability Durability
	// CacheBytes bounds the memory of the record and folder caches
	// together; 0 turns caching off (every read goes to disk).
	CacheBytes int64
	// CacheMode is cache.Strict (default) or cache.Relaxed.
	CacheMode cache.Mode
	// MaxStale is how long a relaxed-mode hit is served without a stat.
	MaxStale time.Duration
	// RecordsInXattr keeps node records in an extended attribute of their
	// (empty) file instead of in its content: the metadata/xattr backend.
	// A store is written in one way only; open it the way it was created.
	RecordsInXattr bool
}

// DefaultOptions returns strict caching with 256 MiB and no fsync.
func DefaultOptions(root string) Options {
	return Options{
		Root:       root,
		Durability: DurabilityNone,
		CacheBytes: 256 << 20,
		CacheMode:  cache.Strict,
		MaxStale:   time.Second,
	}
}

// Validate rejects unusable options.
func (o Options) Validate() error {
	switch {
	case o.Root == "":
		return errors.New("mpk: Root is required")
	case o.Durability != DurabilityNone && o.Durability != DurabilityFsync:
		return fmt.Errorf("mpk: unknown durability %d", int(o.Durability))
	case o.CacheBytes < 0:
		return errors.New("mpk: CacheBytes must not be negative")
	case o.CacheMode == cache.Relaxed && o.MaxStale <= 0:
		return errors.New("mpk: relaxed caching needs a positive MaxStale")
	}
	return nil
}

// cacheOptions splits the cache budget: records get most of it, listings
// (which point at records, so mostly share their memory) and name lookups
// the rest.
func (o Options) cacheOptions(share int64) cache.Options {
	return cache.Options{MaxBytes: o.CacheBytes * share / 16, Mode: o.CacheMode, MaxStale: o.MaxStale}
}

// setCacheOptions sizes the caches of a space's locks and reservations:
// small sets, one entry per space that has any.
func (o Options) setCacheOptions() cache.Options {
	return cache.Options{MaxBytes: o.CacheBytes / 32, Mode: o.CacheMode, MaxStale: o.MaxStale}
}
