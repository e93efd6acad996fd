package sqlmeta

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/s3dfs/s3dfs/metadata"
)

// OpenPostgres connects to the PostgreSQL database opts.DSN names, creates
// or migrates the schema, and returns the store. Statements are prepared
// once per connection (pgx's statement cache); each session runs with
// synchronous_commit set from opts.Durability.
func OpenPostgres(ctx context.Context, opts Options) (*Backend, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.DSN == "" {
		return nil, errors.New("sqlmeta: OpenPostgres needs a DSN")
	}
	cfg, err := pgxpool.ParseConfig(opts.DSN)
	if err != nil {
		return nil, fmt.Errorf("sqlmeta: DSN: %w", err)
	}
	cfg.MaxConns = int32(opts.maxConns())
	params := cfg.ConnConfig.RuntimeParams
	params["synchronous_commit"] = "off"
	if opts.Durability == DurabilityFsync {
		params["synchronous_commit"] = "on"
	}
	if params["application_name"] == "" {
		params["application_name"] = "s3dfs"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("sqlmeta: connect: %w", err)
	}
	e := &pgEngine{pool: pool}
	b, err := newBackend(ctx, e, postgresDialect, opts)
	if err != nil {
		return nil, err
	}
	b.createFast, b.propagateFast, b.trashFast = b.pgCreate, b.pgPropagate, b.pgTrash
	return b, nil
}

type pgEngine struct {
	pool *pgxpool.Pool
}

func (e *pgEngine) close() { e.pool.Close() }

func (e *pgEngine) query(ctx context.Context, q string, args []any, fn rowFunc) error {
	rows, err := e.pool.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	return drain(rows, fn)
}

func drain(rows pgx.Rows, fn rowFunc) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (e *pgEngine) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := e.pool.Exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// PostgreSQL error codes this package acts on.
const (
	pgUniqueViolation = "23505"
	pgSerialization   = "40001"
	pgDeadlock        = "40P01"
	pgDataCorrupted   = "XX001"
)

func (e *pgEngine) classify(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case pgUniqueViolation:
		return fmt.Errorf("%w: %v", errUnique, err)
	case pgSerialization, pgDeadlock:
		return fmt.Errorf("%w: %v", errRetry, err)
	case pgDataCorrupted:
		return fmt.Errorf("%w: %v", metadata.ErrCorrupt, err)
	}
	return err
}

func (e *pgEngine) begin(ctx context.Context) (txn, error) {
	conn, err := e.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	t := &pgTx{ctx: ctx, conn: conn}
	// BEGIN goes with the first statement: no round trip of its own.
	t.queue("begin")
	return t, nil
}

// pgTx is a transaction on one pooled connection. Statements queued with
// queue are pipelined with the next statement or the COMMIT (one pgx
// batch, one round trip); the server runs them in order.
type pgTx struct {
	ctx     context.Context
	conn    *pgxpool.Conn
	pending pgx.Batch
	done    bool
}

func (t *pgTx) queue(q string, args ...any) { t.pending.Queue(q, args...) }

// send sends the queued statements and then last (if not empty), and
// passes last's results to use.
func (t *pgTx) send(ctx context.Context, last string, args []any, use func(br pgx.BatchResults) error) error {
	if last != "" {
		t.pending.Queue(last, args...)
	}
	batch := t.pending
	t.pending = pgx.Batch{}
	n := batch.Len()
	if last != "" {
		n--
	}
	br := t.conn.SendBatch(ctx, &batch)
	var err error
	for range n {
		if _, err = br.Exec(); err != nil {
			break
		}
	}
	if err == nil && last != "" {
		err = use(br)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

func (t *pgTx) query(ctx context.Context, q string, args []any, fn rowFunc) error {
	if t.pending.Len() == 0 {
		rows, err := t.conn.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		return drain(rows, fn)
	}
	return t.send(ctx, q, args, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		return drain(rows, fn)
	})
}

func (t *pgTx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	if t.pending.Len() == 0 {
		tag, err := t.conn.Exec(ctx, q, args...)
		return tag.RowsAffected(), err
	}
	var n int64
	err := t.send(ctx, q, args, func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

func (t *pgTx) commit(ctx context.Context) error {
	if t.done {
		return nil
	}
	t.queue("commit")
	if err := t.send(ctx, "", nil, nil); err != nil {
		return err // rollback follows
	}
	t.done = true
	t.conn.Release()
	return nil
}

func (t *pgTx) rollback() {
	if t.done {
		return
	}
	t.done = true
	// Also after a cancelled context: the connection goes back to the
	// pool clean, or pgxpool drops it (it never pools one in a
	// transaction).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), 5*time.Second)
	defer cancel()
	if t.conn.Conn().PgConn().TxStatus() != 'I' {
		_, _ = t.conn.Exec(ctx, "rollback")
	}
	t.conn.Release()
}

// pgCreate inserts a node in one statement: the parent's row is read and
// share-locked (so that it cannot be trashed or purged before the insert
// commits), and the insert happens only if it is a live folder; ON
// CONFLICT DO NOTHING turns a taken name or id into "no row inserted".
const pgCreateSQL = `WITH p AS (
		SELECT type, trashed FROM s3dfs_nodes WHERE id = $3::uuid AND space_id = $2::uuid FOR SHARE
	), ins AS (
		INSERT INTO s3dfs_nodes (id, space_id, parent_id, name, type, size, mtime, blob_id, sha1, md5, adler32, version, rec)
		SELECT $1::uuid, $2::uuid, $3::uuid, $4::text, $5::bigint, $6::bigint, $7::bigint, $8::uuid,
			$9::bytea, $10::bytea, $11::bytea, $12::bigint, $13::bytea
		FROM p WHERE p.type = 2 AND p.trashed = 0
		ON CONFLICT DO NOTHING
		RETURNING 1
	)
	SELECT p.type, p.trashed, (SELECT count(*) FROM ins) FROM p`

func (b *Backend) pgCreate(ctx context.Context, n *metadata.Node, args []any) error {
	var typ, trashed, inserted int64
	found, err := queryRow(ctx, b.eng.query, pgCreateSQL, args, &typ, &trashed, &inserted)
	if err != nil {
		return err
	}
	if err := parentError(found, typ, trashed, n.ParentID); err != nil {
		return err
	}
	if inserted == 0 {
		return existError(n)
	}
	return nil
}

// pgPropagateSQL updates a folder and its ancestors in one statement. The
// path (chain) is read from the statement's snapshot, but a folder on it
// may be moved, trashed or restored by a transaction that commits after
// the snapshot was taken and before this statement gets the folder's row
// lock. So the rows of the path are first locked (locked), in id order
// like every multi-row lock of this package, which returns them as they
// are now; if the path they form is not the one read, the statement aborts
// itself with a serialization failure, undoing everything, and runs again
// with a new snapshot. Once it holds every row of the path, nobody can
// change the path until it commits: a delta is counted along exactly the
// path the folder has at that moment, as mpk's walk does it one lock at a
// time.
const pgPropagateSQL = `WITH RECURSIVE chain(id, parent_id, trashed, depth) AS (
		SELECT id, parent_id, trashed, 1 FROM s3dfs_nodes WHERE id = $2 AND space_id = $1 AND type = 2
		UNION ALL
		SELECT n.id, n.parent_id, n.trashed, c.depth + 1 FROM chain c JOIN s3dfs_nodes n ON n.id = c.parent_id
		WHERE c.trashed = 0 AND c.depth <= 4096
	), locked AS MATERIALIZED (
		SELECT n.id, n.parent_id, n.trashed FROM s3dfs_nodes n
		WHERE n.id IN (SELECT id FROM chain) ORDER BY n.id FOR UPDATE
	), upd AS (
		UPDATE s3dfs_nodes n SET tree_size = n.tree_size + $3, tree_mtime = GREATEST(n.tree_mtime + 1, $4),
			version = GREATEST(n.version + 1, $4)
		FROM locked l WHERE n.id = l.id
		RETURNING 1
	)
	SELECT CASE
		WHEN (SELECT max(depth) FROM chain) > 4096
			THEN s3dfs_raise('XX001', 'propagate: the parent chain is longer than 4096 folders (a cycle?)')
		WHEN (SELECT count(*) FROM locked l JOIN chain c ON c.id = l.id
				WHERE l.parent_id IS NOT DISTINCT FROM c.parent_id AND l.trashed = c.trashed)
			<> (SELECT count(*) FROM chain)
			THEN s3dfs_raise('40001', 'propagate: a folder on the path moved meanwhile')
		ELSE (SELECT count(*) FROM upd) END`

func (b *Backend) pgPropagate(ctx context.Context, sid, id string, delta, now int64) (int64, error) {
	var updated int64
	_, err := queryRow(ctx, b.eng.query, pgPropagateSQL, []any{sid, id, delta, now}, &updated)
	return updated, err
}

// pgTrashSQL sets the trash mark and, for a folder, a new namespace
// version, in one statement.
const pgTrashSQL = `WITH t AS (
		UPDATE s3dfs_nodes SET trashed = $3, version = GREATEST(version + 1, $3)
		WHERE id = $2 AND space_id = $1 AND trashed = 0 AND parent_id IS NOT NULL
		RETURNING id, type, coalesce(parent_id::text, '') AS parent, name, trashed, tree_size, tree_mtime, version, rec
	), ns AS (
		UPDATE s3dfs_spaces SET ns = GREATEST(ns + 1, $3) WHERE id = $1 AND EXISTS (SELECT 1 FROM t WHERE t.type = 2)
	)
	SELECT * FROM t`

func (b *Backend) pgTrash(ctx context.Context, sid, id string, now int64) (*metadata.Node, error) {
	var r nodeRow
	found, err := queryRow(ctx, b.eng.query, pgTrashSQL, []any{sid, id, now}, r.dest()...)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: node %s (or it is in the trash)", metadata.ErrNotFound, id)
	}
	return trashedNode(&r, sid)
}
