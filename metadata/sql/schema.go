package sqlmeta

import (
	"context"
	"fmt"
	"strings"
)

// SchemaVersion is the schema this code creates and uses. Each version is
// a migration (below) from the one before; Open applies those a store
// lacks, in one transaction.
//
// Forward compatibility works the SQL way: statements name the columns they
// write, so columns a newer schema adds survive an older binary's writes,
// and a newer schema records the oldest version whose code can still use
// it (s3dfs_schema.compatible). Open refuses a store that needs newer code.
const SchemaVersion = 2

// dialect holds what differs in the SQL text of the two engines. Statements
// are written in the common subset, with markers that the dialect replaces:
//
//	{greatest}    GREATEST (PostgreSQL) or max (SQLite's scalar max)
//	{forupdate}   FOR UPDATE, or nothing: SQLite has one writer at a time
//	{nodecols}    the columns nodeRow.dest scans, of table alias n
//	{retcols}     the same without the alias, for RETURNING
//	{uuid}        a column type: uuid (16 bytes) or TEXT
//	{text}        text that compares as bytes: text COLLATE "C", or TEXT
//	{int}, {bytes}
type dialect struct {
	name     string
	replacer *strings.Replacer
	// migrations[i] takes a store from schema version i to i+1.
	migrations [][]string
}

func (d *dialect) sql(q string) string { return d.replacer.Replace(q) }

const nodeColumns = "%[1]sid, %[1]stype, coalesce(%[1]sparent_id%[2]s, ''), %[1]sname, %[1]strashed, " +
	"%[1]stree_size, %[1]stree_mtime, %[1]sversion, %[1]srec"

var postgresDialect = &dialect{
	name: "postgres",
	replacer: strings.NewReplacer(
		"{greatest}", "GREATEST",
		"{forupdate}", " FOR UPDATE",
		"{nodecols}", fmt.Sprintf(nodeColumns, "n.", "::text"),
		"{retcols}", fmt.Sprintf(nodeColumns, "", "::text"),
		"{uuid}", "uuid",
		"{text}", `text COLLATE "C"`,
		"{int}", "bigint",
		"{bytes}", "bytea",
	),
}

var sqliteDialect = &dialect{
	name: "sqlite",
	replacer: strings.NewReplacer(
		"{greatest}", "max",
		"{forupdate}", "",
		"{nodecols}", fmt.Sprintf(nodeColumns, "n.", ""),
		"{retcols}", fmt.Sprintf(nodeColumns, "", ""),
		"{uuid}", "TEXT",
		"{text}", "TEXT",
		"{int}", "INTEGER",
		"{bytes}", "BLOB",
	),
}

// schemaV1 is the first schema, in the common dialect.
//
// s3dfs_nodes is the filecache: one row per node. The record (rec, the
// msgpack encoding metadata.EncodeNode writes, as in metadata/mpk) is the
// source of the node's own fields, so that every field of metadata.Node,
// present and future, and unknown fields written by newer code, survive
// without a migration. Next to it:
//
//   - parent_id, name and trashed are the link and the trash mark. They
//     are what the indexes and the tree operations use, and they win over
//     the copies in rec, which MoveNode, TrashNode and RestoreNode leave
//     alone (so those are column updates, with no record to rewrite);
//   - tree_size and tree_mtime are a folder's propagated values, kept out
//     of the record like mpk's tree attribute, so that propagation is an
//     update of two integers;
//   - size, mtime, blob_id and the checksums repeat the record's, written
//     with it, for queries over many nodes (sums for a checker, blob ids
//     for garbage collection); reads never use them;
//   - version changes with every write of the row and becomes Node.Stamp.
//
// The unique index on (space_id, parent_id, name) of live links claims
// names; a trashed node keeps its parent and name for the record but
// leaves the index, so its name can be taken again.
var schemaV1 = []string{
	`CREATE TABLE s3dfs_spaces (
		id      {uuid} PRIMARY KEY,
		version {int} NOT NULL,
		ns      {int} NOT NULL,
		rec     {bytes} NOT NULL
	)`,
	`CREATE TABLE s3dfs_space_index (
		idx      {text} NOT NULL,
		key      {text} NOT NULL,
		space_id {uuid} NOT NULL,
		PRIMARY KEY (idx, key, space_id)
	)`,
	`CREATE INDEX s3dfs_space_index_space ON s3dfs_space_index (space_id)`,
	`CREATE TABLE s3dfs_nodes (
		id         {uuid} PRIMARY KEY,
		space_id   {uuid} NOT NULL,
		parent_id  {uuid},
		name       {text} NOT NULL,
		type       {int} NOT NULL,
		trashed    {int} NOT NULL DEFAULT 0,
		size       {int} NOT NULL DEFAULT 0,
		mtime      {int} NOT NULL DEFAULT 0,
		blob_id    {uuid},
		sha1       {bytes},
		md5        {bytes},
		adler32    {bytes},
		tree_size  {int} NOT NULL DEFAULT 0,
		tree_mtime {int} NOT NULL DEFAULT 0,
		version    {int} NOT NULL,
		rec        {bytes} NOT NULL
	){fillfactor}`,
	`CREATE UNIQUE INDEX s3dfs_nodes_link ON s3dfs_nodes (space_id, parent_id, name) WHERE trashed = 0`,
	`CREATE INDEX s3dfs_nodes_trash ON s3dfs_nodes (space_id) WHERE trashed <> 0`,
	`CREATE TABLE s3dfs_uploads (
		id  {uuid} PRIMARY KEY,
		rec {bytes} NOT NULL
	)`,
}

// schemaV2 moves per-request state out of the space record: WebDAV locks
// and quota reservations get a row each (spacestate.go), so that what one
// user does never grows the record every request reads. Code of schema 1
// keeps them in the record, so it must not use a store of schema 2: the
// migration makes 2 the oldest compatible version.
var schemaV2 = []string{
	`CREATE TABLE s3dfs_locks (
		space_id {uuid} NOT NULL,
		token    {text} NOT NULL,
		rec      {bytes} NOT NULL,
		PRIMARY KEY (space_id, token)
	)`,
	`CREATE TABLE s3dfs_reservations (
		space_id {uuid} NOT NULL,
		id       {uuid} NOT NULL,
		rec      {bytes} NOT NULL,
		PRIMARY KEY (space_id, id)
	)`,
}

// pgRaise lets a single PostgreSQL statement abort itself with a chosen
// SQLSTATE: propagation checks, in the statement that updates the path,
// that the path did not change while it waited for the rows' locks.
const pgRaise = `CREATE FUNCTION s3dfs_raise(code text, msg text) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION USING ERRCODE = code, MESSAGE = msg;
END
$$`

func init() {
	// Propagation updates a folder's row on every change below it; room
	// left in each page lets PostgreSQL update in place (HOT) without
	// touching the indexes, none of which covers the updated columns.
	pg := append([]string{}, schemaV1...)
	for i, s := range pg {
		pg[i] = strings.ReplaceAll(s, "{fillfactor}", " WITH (fillfactor = 80)")
	}
	postgresDialect.migrations = [][]string{append(pg, pgRaise), schemaV2}
	lite := append([]string{}, schemaV1...)
	for i, s := range lite {
		lite[i] = strings.ReplaceAll(s, "{fillfactor}", "")
	}
	sqliteDialect.migrations = [][]string{lite, schemaV2}
	for _, d := range []*dialect{postgresDialect, sqliteDialect} {
		if len(d.migrations) != SchemaVersion {
			panic(fmt.Sprintf("sqlmeta: %s has %d migrations for schema version %d", d.name, len(d.migrations), SchemaVersion))
		}
	}
}

// migrate brings the store's schema to SchemaVersion, in one transaction
// that concurrent openers take turns at (PostgreSQL: an advisory lock;
// SQLite: the write lock of BEGIN IMMEDIATE).
func (b *Backend) migrate(ctx context.Context) error {
	return b.inTx(ctx, "migrate", func(tx txn) error {
		if b.d == postgresDialect {
			if _, err := tx.exec(ctx, `SELECT pg_advisory_xact_lock(7302105871)`); err != nil {
				return err
			}
		}
		if _, err := tx.exec(ctx, `CREATE TABLE IF NOT EXISTS s3dfs_schema (version integer NOT NULL, compatible integer NOT NULL)`); err != nil {
			return err
		}
		var version, compatible int64
		found, err := queryRow(ctx, tx.query, `SELECT version, compatible FROM s3dfs_schema`, nil, &version, &compatible)
		if err != nil {
			return err
		}
		switch {
		case version > SchemaVersion && compatible > SchemaVersion:
			return fmt.Errorf("sqlmeta: the store has schema version %d, which needs code for version %d or newer; this code knows %d",
				version, compatible, SchemaVersion)
		case version >= SchemaVersion:
			return nil
		}
		for v := version; v < SchemaVersion; v++ {
			for _, s := range b.d.migrations[v] {
				if _, err := tx.exec(ctx, b.d.sql(s)); err != nil {
					return fmt.Errorf("sqlmeta: migrate to schema version %d: %w", v+1, err)
				}
			}
		}
		q := `UPDATE s3dfs_schema SET version = $1, compatible = $1`
		if !found {
			q = `INSERT INTO s3dfs_schema (version, compatible) VALUES ($1, $1)`
		}
		_, err = tx.exec(ctx, q, SchemaVersion)
		return err
	})
}
