package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pkg is the per-test-binary state. Main marks the binary as managed; the
// first New starts the server (so that tests needing no database start
// none) and Main stops it after the tests ran.
var pkg struct {
	mu       sync.Mutex
	managed  bool          // Main is running
	server   *Server       // started by New, stopped by Main
	dir      string        // the server's directory, removed by Main
	admin    *pgxpool.Pool // creates and drops the tests' schemas
	adminDSN string
	startErr error // sticky: one failed start fails every test that needs the server
}

// Main runs the tests of a package that uses New, and returns the exit
// code. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// Unless S3DFS_PG_DSN names an external server, the first call to New
// starts one postgres for the whole test binary; Main stops it at the end.
func Main(m *testing.M) int { return Wrap(m.Run) }

// Wrap is Main for a TestMain that has more to wrap around the tests (such
// as s3test.Main): it calls run, and stops the server New started, if any.
//
//	os.Exit(pgtest.Wrap(func() int { return s3test.Main(m) }))
func Wrap(run func() int) int {
	pkg.mu.Lock()
	pkg.managed = true
	pkg.mu.Unlock()

	code := run()

	pkg.mu.Lock()
	defer pkg.mu.Unlock()
	if pkg.admin != nil {
		pkg.admin.Close()
		pkg.admin = nil
	}
	if pkg.server != nil {
		if err := pkg.server.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		pkg.server = nil
	}
	if pkg.dir != "" {
		if err := os.RemoveAll(pkg.dir); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: remove server directory: %v\n", err)
		}
	}
	return code
}

// admin returns a pool on the server's maintenance database, starting the
// server on first use.
func admin() (*pgxpool.Pool, string, error) {
	pkg.mu.Lock()
	defer pkg.mu.Unlock()
	if pkg.admin != nil {
		return pkg.admin, pkg.adminDSN, nil
	}
	if pkg.startErr != nil {
		return nil, "", pkg.startErr
	}
	dsn := os.Getenv("S3DFS_PG_DSN")
	if dsn == "" {
		if !pkg.managed {
			return nil, "", fmt.Errorf("pgtest: no server: call pgtest.Main from TestMain " +
				"(func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }) or set S3DFS_PG_DSN")
		}
		dir, err := os.MkdirTemp("", "s3dfs-pgtest-*")
		if err != nil {
			pkg.startErr = fmt.Errorf("pgtest: %w", err)
			return nil, "", pkg.startErr
		}
		s, err := StartServer(dir, FastSettings...)
		if err != nil {
			os.RemoveAll(dir)
			pkg.startErr = err
			return nil, "", err
		}
		pkg.server, pkg.dir, dsn = s, dir, s.DSN
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, dsn)
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		if pool != nil {
			pool.Close()
		}
		return nil, "", fmt.Errorf("pgtest: connect to %s: %w", redact(dsn), err)
	}
	pkg.admin, pkg.adminDSN = pool, dsn
	return pool, dsn, nil
}

// New returns the DSN of a fresh, empty schema created for this test alone
// on a real PostgreSQL server: the DSN sets search_path to it, so that
// everything the test creates without naming a schema goes there. The
// schema is dropped when the test ends (after the test's own cleanups, so
// close your pools in t.Cleanup). It fails the test (never skips it) when
// no server can be had.
//
// A schema rather than a database per test: creating and dropping a
// database costs a few hundred milliseconds, a schema one.
func New(t testing.TB) string {
	t.Helper()
	pool, dsn, err := admin()
	if err != nil {
		t.Fatal(err)
	}
	name := SchemaName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Logf("pgtest: drop schema %s: %v", name, err)
		}
	})
	out, err := WithSearchPath(dsn, name)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// SchemaName turns a test name into a valid, unique schema name: lower
// case letters, digits and single underscores, at most 63 bytes, ending in
// a random suffix.
func SchemaName(testName string) string {
	var b strings.Builder
	b.WriteString("t_")
	under := true // suppresses repeated underscores
	for _, r := range strings.ToLower(testName) {
		if b.Len() >= 44 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			under = false
		case !under:
			b.WriteByte('_')
			under = true
		}
	}
	name := strings.TrimRight(b.String(), "_")
	return name + "_" + randomHex(6)
}

// redact drops the password from a URL DSN for error messages.
func redact(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.LastIndex(dsn, "@"); at > i {
			if colon := strings.Index(dsn[i+3:at], ":"); colon >= 0 {
				return dsn[:i+3+colon] + ":xxx" + dsn[at:]
			}
		}
	}
	return dsn
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
