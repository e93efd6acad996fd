package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/mpk"
	sqlmeta "github.com/s3dfs/s3dfs/metadata/sql"
	"github.com/s3dfs/s3dfs/metadata/xattr"
)

// registry lists the backends a run can compare, in report order. A new
// backend is one line here: fileBased for stores configured like mpk,
// database for the rest.
var registry = []Backend{
	fileBased("mpk", mpk.New),
	fileBased("xattr", xattr.New),
	database("postgres", openPostgres, true),
	database("sqlite", openSQLite, false),
}

// Backend is a metadata backend the benchmark knows how to open.
type Backend struct {
	Name string
	// Kind is "file" or "database", for the report.
	Kind string
	// UsesPostgres says that Open needs StoreSpec.PostgresDSN.
	UsesPostgres bool
	// Open opens (or creates) the backend's store as spec describes. It is
	// called again on the same spec to get a backend with empty caches.
	Open func(ctx context.Context, spec StoreSpec) (metadata.Backend, error)
}

// StoreSpec says where a backend keeps its data and how it behaves.
type StoreSpec struct {
	// Dir is a directory of the backend's own on the measured filesystem.
	Dir string
	// PostgresDSN names an empty database (or schema) for the run.
	PostgresDSN string
	Durability  Durability
	// CacheBytes bounds the backend's own caches, where it has any.
	CacheBytes int64
	CacheMode  cache.Mode
	MaxStale   time.Duration
}

// Durability is what a write waits for, matched across backends.
type Durability string

const (
	// Fsync: a write returns once it is on stable storage (mpk flushes
	// records and directory entries; PostgreSQL synchronous_commit=on;
	// SQLite synchronous=FULL).
	Fsync Durability = "fsync"
	// NoSync: a write returns once the kernel or the database has it in
	// memory (synchronous_commit=off, synchronous=NORMAL).
	NoSync Durability = "none"
)

// ParseDurability parses "fsync" or "none".
func ParseDurability(s string) (Durability, error) {
	switch d := Durability(s); d {
	case Fsync, NoSync:
		return d, nil
	}
	return "", fmt.Errorf("bench: unknown durability %q (want fsync or none)", s)
}

// fileBased adapts a constructor that takes mpk's options (mpk itself, and
// backends built on its layout) to the registry.
func fileBased[B metadata.Backend](name string, open func(mpk.Options) (B, error)) Backend {
	return Backend{Name: name, Kind: "file", Open: func(_ context.Context, s StoreSpec) (metadata.Backend, error) {
		o := mpk.DefaultOptions(filepath.Join(s.Dir, "store"))
		o.Durability = mpk.DurabilityNone
		if s.Durability == Fsync {
			o.Durability = mpk.DurabilityFsync
		}
		o.CacheBytes, o.CacheMode, o.MaxStale = s.CacheBytes, s.CacheMode, s.MaxStale
		b, err := open(o)
		if err != nil {
			return nil, err
		}
		return b, nil
	}}
}

func database(name string, open func(context.Context, StoreSpec) (metadata.Backend, error), pg bool) Backend {
	return Backend{Name: name, Kind: "database", UsesPostgres: pg, Open: open}
}

func sqlOptions(s StoreSpec) sqlmeta.Options {
	o := sqlmeta.DefaultOptions()
	o.Durability = sqlmeta.DurabilityNone
	if s.Durability == Fsync {
		o.Durability = sqlmeta.DurabilityFsync
	}
	return o
}

func openPostgres(ctx context.Context, s StoreSpec) (metadata.Backend, error) {
	if s.PostgresDSN == "" {
		return nil, fmt.Errorf("bench: postgres needs a DSN")
	}
	o := sqlOptions(s)
	o.DSN = s.PostgresDSN
	return sqlmeta.OpenPostgres(ctx, o)
}

func openSQLite(ctx context.Context, s StoreSpec) (metadata.Backend, error) {
	o := sqlOptions(s)
	o.Path = filepath.Join(s.Dir, "meta.db")
	return sqlmeta.OpenSQLite(ctx, o)
}

// Backends returns the names of the backends a run can compare.
func Backends() []string {
	names := make([]string, len(registry))
	for i, b := range registry {
		names[i] = b.Name
	}
	return names
}

func lookupBackend(name string) (Backend, bool) {
	i := slices.IndexFunc(registry, func(b Backend) bool { return b.Name == name })
	if i < 0 {
		return Backend{}, false
	}
	return registry[i], true
}

func unknownBackend(name string) error {
	return fmt.Errorf("bench: unknown backend %q (known: %s)", name, strings.Join(Backends(), ", "))
}
