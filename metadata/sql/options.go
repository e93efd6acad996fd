package sqlmeta

import (
	"errors"
	"fmt"
	"time"

	"github.com/s3dfs/s3dfs/metadata"
)

// Durability says what a write waits for before it returns: the levels of
// metadata.Durability, which metadata/mpk shares, so that benchmarks
// compare like with like.
type Durability = metadata.Durability

const (
	// DurabilityNone returns once the database has the change in memory
	// (PostgreSQL: synchronous_commit=off; SQLite: synchronous=NORMAL in WAL
	// mode). A crash of the machine may lose the last commits, never tear
	// one; a crash of the process loses nothing.
	DurabilityNone = metadata.DurabilityNone
	// DurabilityFsync returns once the commit is flushed to disk
	// (PostgreSQL: synchronous_commit=on, which relies on the server's
	// fsync=on; SQLite: synchronous=FULL, an fsync of the WAL per commit).
	DurabilityFsync = metadata.DurabilityFsync
)

// ParseDurability parses "none" or "fsync".
func ParseDurability(s string) (Durability, error) { return metadata.ParseDurability(s) }

// Options configure a Backend. OpenPostgres needs DSN, OpenSQLite Path.
type Options struct {
	// DSN names the PostgreSQL database, as a URL
	// ("postgres://user@host:5432/db?sslmode=disable") or a keyword/value
	// string; pgx reads both, and the PG* environment variables.
	DSN string
	// Path is the SQLite database file (created if missing). Its WAL and
	// shared-memory files go next to it.
	Path string

	Durability Durability
	// MaxConns bounds the connections: PostgreSQL's pool, SQLite's readers
	// (SQLite writes through one connection per Backend, since it admits
	// one writer at a time anyway). 0 means DefaultMaxConns.
	MaxConns int
	// BusyTimeout is how long an SQLite write waits for another process's
	// write to finish before it fails.
	BusyTimeout time.Duration
	// SQLiteCacheKiB is the page cache of each SQLite connection.
	SQLiteCacheKiB int
}

// DefaultMaxConns is the connection bound when Options.MaxConns is 0: enough
// for the concurrency the benchmarks use on a small machine without making
// PostgreSQL juggle more backends than it has cores to run.
const DefaultMaxConns = 16

// DefaultOptions returns the defaults: no fsync (as metadata/mpk), 16
// connections, a 10 s busy timeout and 16 MiB of cache per SQLite
// connection.
func DefaultOptions() Options {
	return Options{
		Durability:     DurabilityNone,
		MaxConns:       DefaultMaxConns,
		BusyTimeout:    10 * time.Second,
		SQLiteCacheKiB: 16 << 10,
	}
}

// Validate rejects unusable options.
func (o Options) Validate() error {
	switch {
	case o.DSN != "" && o.Path != "":
		return errors.New("sqlmeta: set DSN (PostgreSQL) or Path (SQLite), not both")
	case o.Durability != DurabilityNone && o.Durability != DurabilityFsync:
		return fmt.Errorf("sqlmeta: unknown durability %d", int(o.Durability))
	case o.MaxConns < 0:
		return errors.New("sqlmeta: MaxConns must not be negative")
	case o.BusyTimeout < 0:
		return errors.New("sqlmeta: BusyTimeout must not be negative")
	case o.SQLiteCacheKiB < 0:
		return errors.New("sqlmeta: SQLiteCacheKiB must not be negative")
	}
	return nil
}

func (o Options) maxConns() int {
	if o.MaxConns == 0 {
		return DefaultMaxConns
	}
	return o.MaxConns
}
