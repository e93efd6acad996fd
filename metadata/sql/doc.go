// Package sqlmeta is the node store of s3dfs on a database: PostgreSQL
// (pgx) or SQLite (modernc.org/sqlite, no cgo). It is the DB-backed
// baseline that `s3dfs bench` measures metadata/mpk against, built as a
// fair, competent peer: the same semantics (it passes the same
// conformance suite, metadata/metadatatest), one transaction per
// operation, prepared statements, connection pools, propagation in one
// statement whatever the depth, and no cache: every read asks the
// database, which is the point of the comparison.
//
// The package lives in metadata/sql but is named sqlmeta, so that it does
// not shadow database/sql where both are imported.
//
// # Schema
//
// One row per node in s3dfs_nodes, in the spirit of ownCloud's filecache
// (see schema.go for the columns and why each is there):
//
//	s3dfs_spaces       id, version, ns (namespace version), rec (space record)
//	s3dfs_space_index  (idx, key, space_id): spaces by owner, member, type
//	s3dfs_nodes        id, space_id, parent_id, name, type, trashed, size, mtime,
//	                   blob_id, sha1, md5, adler32, tree_size, tree_mtime,
//	                   version, rec (node record)
//	                   unique (space_id, parent_id, name) where trashed = 0
//	                   (space_id) where trashed <> 0
//	s3dfs_uploads      id, rec (upload record)
//	s3dfs_locks        (space_id, token), rec (lock record)       schema 2
//	s3dfs_reservations (space_id, id), rec (reservation record)   schema 2
//	s3dfs_schema       version, compatible
//
// WebDAV locks and quota reservations are rows of their own, never part of
// the space record (see spacestate.go); schema 2 added their tables, and
// code of schema 1, which kept them in the record, may not open a store of
// schema 2.
//
// Records are the msgpack encodings of package metadata, as metadata/mpk
// writes them, so unknown fields survive as they do there. ids are uuid
// columns in PostgreSQL and TEXT in SQLite; names compare as bytes
// (COLLATE "C", SQLite's BINARY), as the suite requires.
//
// # Operations
//
// Each method is one transaction; in PostgreSQL a statement whose result
// does not decide anything is pipelined with the next one (BEGIN with the
// first, the last writes with COMMIT), so that round trips, not
// statements, are what an operation costs:
//
//	ReadNode      1 SELECT by primary key
//	Lookup        1 SELECT (the folder's row UNION ALL the child's)
//	List          1 SELECT (the folder's row UNION ALL its children, by name)
//	CreateNode    PostgreSQL 1 statement (parent FOR SHARE + INSERT ... ON CONFLICT
//	              DO NOTHING); SQLite SELECT + INSERT
//	UpdateNode    SELECT ... FOR UPDATE, UPDATE (2 round trips)
//	MoveNode      SELECT the node, new parent and target FOR UPDATE; for a folder
//	              the space row (namespace version) and a recursive cycle check;
//	              UPDATE (2 round trips for a file, 3 for a folder)
//	TrashNode     1 UPDATE ... RETURNING (plus the namespace version for a folder,
//	              in the same statement in PostgreSQL)
//	RestoreNode   like a move, clearing the trash mark
//	Propagate     1 recursive UPDATE of the folder and its ancestors, any depth
//	PurgeNode     1 DELETE
//	WalkNodes     pages of 1000 rows by id (for checkers, like mpk's WalkNodes)
//	ReadLocks     1 SELECT of the space's lock rows (ReadReservations alike)
//	UpdateLocks   the space row FOR UPDATE, SELECT of the lock rows, then the
//	              INSERTs ... ON CONFLICT DO UPDATE and DELETEs of the edit
//	              (UpdateReservations alike)
//
// # Durability
//
// Options.Durability matches mpk's: DurabilityFsync is synchronous_commit=on
// in PostgreSQL (with the server's fsync=on) and synchronous=FULL in SQLite's
// WAL mode, a flushed commit per operation; DurabilityNone is
// synchronous_commit=off and synchronous=NORMAL, which may lose the last
// commits in a machine crash but never tears one. Every operation is
// atomic either way: a crash leaves none of the half-states mpk's checker
// repairs, except that derived values (tree sizes) lag when a crash falls
// between an operation and its Propagate, as the interface allows.
//
// # Concurrency
//
// Several Backends, in one process or many, may share a database.
// PostgreSQL runs at READ COMMITTED with row locks (lock order in move.go);
// SQLite runs one write transaction at a time (BEGIN IMMEDIATE) and reads
// from WAL snapshots.
package sqlmeta
