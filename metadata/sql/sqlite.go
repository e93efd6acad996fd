package sqlmeta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"

	"modernc.org/sqlite"
)

// OpenSQLite opens (or creates) the SQLite database at opts.Path in WAL
// mode, creates or migrates the schema, and returns the store.
//
// Writes go through one connection per Backend, in BEGIN IMMEDIATE
// transactions: SQLite admits one writer at a time, and writers that queue
// in Go wait less than writers that poll the file lock. Other processes'
// writers are waited for up to opts.BusyTimeout. Reads use a pool of
// read-only connections and see every write committed before they began
// (WAL snapshots). Statements are prepared once per connection.
func OpenSQLite(ctx context.Context, opts Options) (*Backend, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Path == "" {
		return nil, errors.New("sqlmeta: OpenSQLite needs a Path")
	}
	path, err := filepath.Abs(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("sqlmeta: path: %w", err)
	}
	syncMode := "NORMAL"
	if opts.Durability == DurabilityFsync {
		syncMode = "FULL"
	}
	pragmas := []string{
		fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()),
		"journal_mode(WAL)",
		"synchronous(" + syncMode + ")",
		fmt.Sprintf("cache_size(%d)", -opts.SQLiteCacheKiB),
		"temp_store(MEMORY)",
		// Reads of a mapped file copy nothing into the page cache, and
		// every connection shares the mapping.
		"mmap_size(268435456)",
	}
	dsn := func(extra ...string) string {
		v := url.Values{}
		for _, p := range append(pragmas, extra...) {
			v.Add("_pragma", p)
		}
		v.Set("_txlock", "immediate")
		return (&url.URL{Scheme: "file", Path: path}).String() + "?" + v.Encode()
	}
	w, err := sql.Open("sqlite", dsn())
	if err != nil {
		return nil, fmt.Errorf("sqlmeta: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The writer creates the file and turns on WAL before any reader
	// opens it.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlmeta: open %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn("query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlmeta: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(opts.maxConns())
	r.SetMaxIdleConns(opts.maxConns())
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	e := &liteEngine{r: newStmtCache(r), w: newStmtCache(w)}
	b, err := newBackend(ctx, e, sqliteDialect, opts)
	if err != nil {
		return nil, err
	}
	for _, q := range b.q.all() {
		if _, err := e.w.get(ctx, q); err != nil {
			b.Close()
			return nil, fmt.Errorf("sqlmeta: prepare %.60q: %w", q, err)
		}
	}
	return b, nil
}

type liteEngine struct {
	r, w *stmtCache
}

func (e *liteEngine) close() {
	e.r.close()
	e.w.close()
}

// stmtCache prepares each statement once per database handle; database/sql
// prepares it again on each connection where it is first used.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache { return &stmtCache{db: db, m: map[string]*sql.Stmt{}} }

func (c *stmtCache) get(ctx context.Context, q string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[q]; ok {
		return s, nil
	}
	s, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.m[q] = s
	return s, nil
}

// cached returns the statement if it is prepared already.
func (c *stmtCache) cached(q string) (*sql.Stmt, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[q]
	return s, ok
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.m {
		s.Close()
	}
	c.m = nil
	c.db.Close()
}

func (e *liteEngine) query(ctx context.Context, q string, args []any, fn rowFunc) error {
	s, err := e.r.get(ctx, q)
	if err != nil {
		return err
	}
	rows, err := s.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	return drainSQL(rows, fn)
}

func drainSQL(rows *sql.Rows, fn rowFunc) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (e *liteEngine) exec(ctx context.Context, q string, args ...any) (int64, error) {
	s, err := e.w.get(ctx, q)
	if err != nil {
		return 0, err
	}
	res, err := s.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// SQLite result codes this package acts on (primary codes are the low
// byte of extended ones).
const (
	liteBusy             = 5
	liteLocked           = 6
	liteConstraint       = 19
	liteConstraintPK     = 1555
	liteConstraintUnique = 2067
)

func (e *liteEngine) classify(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	code := se.Code()
	switch {
	case code == liteConstraintUnique || code == liteConstraintPK ||
		code&0xff == liteConstraint && strings.Contains(se.Error(), "UNIQUE"):
		return fmt.Errorf("%w: %v", errUnique, err)
	case code&0xff == liteBusy || code&0xff == liteLocked:
		return fmt.Errorf("%w: %v", errRetry, err)
	}
	return err
}

func (e *liteEngine) begin(ctx context.Context) (txn, error) {
	tx, err := e.w.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock)
	if err != nil {
		return nil, err
	}
	return &liteTx{ctx: ctx, e: e, tx: tx}, nil
}

// liteTx is a write transaction. Queued statements run at once (there is
// no network to save); an error of one is returned by the next call.
type liteTx struct {
	ctx context.Context // of BeginTx, which governs the transaction
	e   *liteEngine
	tx  *sql.Tx
	err error // of a queued statement
}

// stmt returns q prepared on the transaction's connection: the cached
// statement, or one prepared for this transaction alone (preparing it for
// the cache would need the write connection, which this transaction
// holds). OpenSQLite warms the cache with every statement of the Backend.
func (t *liteTx) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if s, ok := t.e.w.cached(q); ok {
		return t.tx.StmtContext(ctx, s), nil
	}
	return t.tx.PrepareContext(ctx, q)
}

func (t *liteTx) query(ctx context.Context, q string, args []any, fn rowFunc) error {
	if t.err != nil {
		return t.err
	}
	s, err := t.stmt(ctx, q)
	if err != nil {
		return err
	}
	rows, err := s.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	return drainSQL(rows, fn)
}

func (t *liteTx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	if t.err != nil {
		return 0, t.err
	}
	s, err := t.stmt(ctx, q)
	if err != nil {
		return 0, err
	}
	res, err := s.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t *liteTx) queue(q string, args ...any) {
	if t.err == nil {
		_, t.err = t.exec(t.ctx, q, args...)
	}
}

func (t *liteTx) commit(ctx context.Context) error {
	if t.err != nil {
		return t.err
	}
	return t.tx.Commit()
}

func (t *liteTx) rollback() { _ = t.tx.Rollback() }
