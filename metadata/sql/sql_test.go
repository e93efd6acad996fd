package sqlmeta_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/s3dfs/s3dfs/internal/pgtest"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/metadatatest"
	sqlmeta "github.com/s3dfs/s3dfs/metadata/sql"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// harness runs the conformance suite on fresh databases; reopen opens
// another Backend on the same database (its own pool, its own connections),
// as another process would.
func harness(newStore func(t *testing.T) func(t *testing.T) metadata.Backend) metadatatest.Harness {
	return metadatatest.Harness{
		New: func(t *testing.T) (metadata.Backend, func(*testing.T) metadata.Backend) {
			open := newStore(t)
			return open(t), open
		},
	}
}

// postgresStore returns an opener of Backends on a new PostgreSQL database.
func postgresStore(opts sqlmeta.Options) func(t *testing.T) func(t *testing.T) metadata.Backend {
	return func(t *testing.T) func(t *testing.T) metadata.Backend {
		o := opts
		o.DSN = pgtest.New(t)
		return func(t *testing.T) metadata.Backend { return open(t, sqlmeta.OpenPostgres, o) }
	}
}

// sqliteStore returns an opener of Backends on a new SQLite file.
func sqliteStore(opts sqlmeta.Options) func(t *testing.T) func(t *testing.T) metadata.Backend {
	return func(t *testing.T) func(t *testing.T) metadata.Backend {
		o := opts
		o.Path = filepath.Join(t.TempDir(), "meta.db")
		return func(t *testing.T) metadata.Backend { return open(t, sqlmeta.OpenSQLite, o) }
	}
}

func open(t *testing.T, openFn func(context.Context, sqlmeta.Options) (*sqlmeta.Backend, error), opts sqlmeta.Options) *sqlmeta.Backend {
	t.Helper()
	b, err := openFn(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

func TestSuite(t *testing.T) {
	t.Run("Postgres", func(t *testing.T) {
		metadatatest.Run(t, harness(postgresStore(sqlmeta.DefaultOptions())))
	})
	t.Run("SQLite", func(t *testing.T) {
		metadatatest.Run(t, harness(sqliteStore(sqlmeta.DefaultOptions())))
	})
}
