// Package pgtest gives tests a real PostgreSQL server: one started for the
// test binary in a temporary directory on a free loopback port, or an
// external server named by the environment. There are no fakes: what the
// tests see is what a deployment sees.
//
// A package that needs PostgreSQL runs its tests through Main and asks New
// for a fresh schema per test:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		dsn := pgtest.New(t) // search_path is a schema created for this test alone
//		...
//	}
//
// The first New of a test binary runs initdb in a temporary directory and
// starts postgres on a free port of 127.0.0.1 (trust authentication,
// loopback only, UTF-8 with the C locale); Main stops it (fast shutdown,
// SIGKILL after ten seconds) and removes the directory once the tests are
// done. Tests that never call New start no server. Each New creates a
// schema, returns a DSN whose sessions use it (search_path), and drops it
// when the test ends, so tests can run in parallel without seeing each
// other; a schema costs a millisecond, a database a few hundred.
//
// The managed server trades durability for speed (fsync=off,
// full_page_writes=off): the tests check semantics, not what survives a
// power cut. Benchmarks use scripts/start-postgres.sh, which keeps
// PostgreSQL's durable defaults.
//
// initdb and postgres refuse to run as root. When the test binary runs as
// root, the server runs as the system user "postgres" (the Debian package
// creates it), and its directory is handed to that user.
//
// # Environment
//
//   - S3DFS_PG_DSN: use that server instead of starting one, e.g.
//     "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable". Its
//     user must be allowed to create schemas in its database. New's
//     schemas are dropped after each test.
//   - S3DFS_PG_BIN: the directory holding initdb and postgres. Otherwise
//     $PATH, then the newest /usr/lib/postgresql/*/bin.
//
// A missing binary or a server that does not come up fails the test with
// the way to fix it and the tail of the server's log. It never skips: a
// silently skipped database test is a hole in the specification.
//
// StartServer is usable outside tests too. This package imports pgx; like
// the rest of the test tooling it is exempt from the rule that only
// metadata/sql imports a database driver.
package pgtest
