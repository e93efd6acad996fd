package pgtest

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Two News give two schemas: what one test creates, the other does not
// see; and a schema is gone after its test.
func TestNewIsolates(t *testing.T) {
	var first string
	t.Run("a", func(t *testing.T) {
		first = New(t)
		c := connect(t, first)
		if _, err := c.Exec(t.Context(), "CREATE TABLE things (id int)"); err != nil {
			t.Fatal(err)
		}
		other := connect(t, New(t))
		if _, err := other.Exec(t.Context(), "SELECT * FROM things"); err == nil {
			t.Error("a table created in one test's schema is visible in another's")
		}
		if _, err := other.Exec(t.Context(), "CREATE TABLE things (id int)"); err != nil {
			t.Errorf("the same table name in another schema: %v", err)
		}
	})
	c := connect(t, New(t))
	var n int
	schema := first[strings.Index(first, "search_path=")+len("search_path="):]
	if err := c.QueryRow(t.Context(), "SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("schema %s survives its test", schema)
	}
}

func TestSchemaName(t *testing.T) {
	seen := map[string]bool{}
	for _, name := range []string{"TestX", "TestSuite/Postgres/Move/Cycle", "Test_Under__score#01", "", "---",
		strings.Repeat("VeryLongTestName", 10)} {
		s := SchemaName(name)
		if len(s) > 63 || strings.Contains(s, "__") || strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			t.Errorf("SchemaName(%q) = %q", name, s)
		}
		if seen[s] {
			t.Errorf("SchemaName(%q) = %q twice", name, s)
		}
		seen[s] = true
	}
}

func TestWithSearchPath(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://u@h:5/db?sslmode=disable": "postgres://u@h:5/db?search_path=s&sslmode=disable",
		"host=h port=5 dbname=db":             "host=h port=5 dbname=db search_path=s",
	} {
		got, err := WithSearchPath(dsn, "s")
		if err != nil || got != want {
			t.Errorf("WithSearchPath(%q) = %q, %v; want %q", dsn, got, err, want)
		}
		if _, err := pgx.ParseConfig(got); err != nil {
			t.Errorf("pgx cannot parse %q: %v", got, err)
		}
	}
}

func TestStartAndStop(t *testing.T) {
	dir, err := os.MkdirTemp("", "s3dfs-pgtest-*")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := StartServer(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := connect(t, s.DSN)
	var fsync string
	if err := c.QueryRow(t.Context(), "SHOW fsync").Scan(&fsync); err != nil {
		t.Fatal(err)
	}
	if fsync != "on" {
		t.Errorf("a server started without settings has fsync=%s, want PostgreSQL's default on", fsync)
	}
	c.Close(t.Context())
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if conn, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))); err == nil {
		conn.Close()
		t.Errorf("the server still accepts connections after Stop")
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "PG_VERSION")); err != nil {
		t.Errorf("the cluster is not below Dir: %v", err)
	}
}

func TestMissingBinaries(t *testing.T) {
	t.Setenv("S3DFS_PG_BIN", filepath.Join(t.TempDir(), "nothing-here"))
	_, err := FindBinDir()
	if err == nil || !strings.Contains(err.Error(), "apt-get install postgresql") {
		t.Errorf("FindBinDir = %v, want an error that says how to install", err)
	}
	if _, err := StartServer(t.TempDir()); err == nil {
		t.Error("StartServer without binaries succeeded")
	}
}
