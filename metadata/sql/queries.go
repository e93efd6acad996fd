package sqlmeta

// queries are the statements of a Backend, rendered for its dialect once at
// open. Parameters are $1, $2, ...: PostgreSQL's syntax, which SQLite reads
// as numbered parameters too. Every node statement names the space, so
// that a node is only ever found in its own space.
type queries struct {
	readNode, lockNode  string
	lookup, list        string
	parentOf            string // type and trash mark of a folder, for error classification
	insertNode          string // ON CONFLICT DO NOTHING: 0 rows means the id or the name is taken
	updateNode          string
	purgeNode           string
	moveLocks           string // the node, the new parent, and what has the target name, locked
	restoreLocks        string // the node and the new parent, locked
	moveNode            string
	restoreNode         string
	trashNode           string // RETURNING the node
	markTrashed         string
	ancestors           string // is $3 an ancestor of $2 (or $2 itself)? and the depth of $2
	propagate           string
	listTrash           string
	walkFirst, walkNext string // a page of a space's nodes, by id
	bumpNS, readNS      string

	insertSpace, readSpace, lockSpace, updateSpace, listSpaces string
	deleteSpace                                                []string
	insertIndex, deleteIndex, spacesBy                         string

	insertUpload, readUpload, lockUpload, updateUpload, deleteUpload, listUploads string

	readLocks, putLock, deleteLock                      string
	readReservations, putReservation, deleteReservation string
}

// maxDepth bounds parent walks, so that a corrupt store whose parent links
// form a cycle gives an error instead of a hang.
const maxDepth = 4096

func newQueries(d *dialect) *queries {
	q := &queries{
		readNode: `SELECT {nodecols} FROM s3dfs_nodes n WHERE n.id = $2 AND n.space_id = $1`,
		lockNode: `SELECT {nodecols} FROM s3dfs_nodes n WHERE n.id = $2 AND n.space_id = $1{forupdate}`,
		// The folder's own row comes with the answer, so that a missing
		// name, a missing folder and a file are told apart in one round
		// trip.
		lookup: `SELECT {nodecols} FROM s3dfs_nodes n WHERE n.id = $2 AND n.space_id = $1
			UNION ALL
			SELECT {nodecols} FROM s3dfs_nodes n WHERE n.space_id = $1 AND n.parent_id = $2 AND n.name = $3 AND n.trashed = 0`,
		list: `SELECT {nodecols} FROM s3dfs_nodes n WHERE n.id = $2 AND n.space_id = $1
			UNION ALL
			SELECT * FROM (SELECT {nodecols} FROM s3dfs_nodes n
				WHERE n.space_id = $1 AND n.parent_id = $2 AND n.trashed = 0 ORDER BY n.name) c`,
		parentOf: `SELECT n.type, n.trashed FROM s3dfs_nodes n WHERE n.id = $2 AND n.space_id = $1`,
		insertNode: `INSERT INTO s3dfs_nodes (id, space_id, parent_id, name, type, size, mtime, blob_id, sha1, md5, adler32, version, rec)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING`,
		updateNode: `UPDATE s3dfs_nodes SET size = $3, mtime = $4, blob_id = $5, sha1 = $6, md5 = $7, adler32 = $8,
			rec = $9, version = $10 WHERE id = $2 AND space_id = $1`,
		purgeNode: `DELETE FROM s3dfs_nodes WHERE id = $2 AND space_id = $1`,
		moveLocks: `SELECT {nodecols} FROM s3dfs_nodes n WHERE n.space_id = $1
			AND (n.id = $2 OR n.id = $3 OR (n.parent_id = $3 AND n.name = $4 AND n.trashed = 0)) ORDER BY n.id{forupdate}`,
		restoreLocks: `SELECT {nodecols} FROM s3dfs_nodes n WHERE n.space_id = $1 AND (n.id = $2 OR n.id = $3) ORDER BY n.id{forupdate}`,
		moveNode:     `UPDATE s3dfs_nodes SET parent_id = $3, name = $4, version = $5 WHERE id = $2 AND space_id = $1`,
		restoreNode:  `UPDATE s3dfs_nodes SET parent_id = $3, name = $4, version = $5, trashed = 0 WHERE id = $2 AND space_id = $1`,
		trashNode: `UPDATE s3dfs_nodes SET trashed = $3, version = {greatest}(version + 1, $3)
			WHERE id = $2 AND space_id = $1 AND trashed = 0 AND parent_id IS NOT NULL RETURNING {retcols}`,
		markTrashed: `UPDATE s3dfs_nodes SET trashed = $3, version = {greatest}(version + 1, $3) WHERE id = $2 AND space_id = $1`,
		ancestors: `WITH RECURSIVE up(id, parent_id, depth) AS (
				SELECT n.id, n.parent_id, 1 FROM s3dfs_nodes n WHERE n.id = $2 AND n.space_id = $1
				UNION ALL
				SELECT n.id, n.parent_id, up.depth + 1 FROM up JOIN s3dfs_nodes n ON n.id = up.parent_id
				WHERE up.id <> $3 AND up.depth <= 4096
			)
			SELECT (SELECT count(*) FROM up WHERE id = $3), (SELECT coalesce(max(depth), 0) FROM up)`,
		// SQLite's propagation: its write transaction sees the current
		// tree, so the path it reads is the path it updates. (PostgreSQL
		// needs more care; see pgPropagate.)
		propagate: `WITH RECURSIVE chain(id, parent_id, trashed, depth) AS (
				SELECT n.id, n.parent_id, n.trashed, 1 FROM s3dfs_nodes n WHERE n.id = $2 AND n.space_id = $1 AND n.type = 2
				UNION ALL
				SELECT n.id, n.parent_id, n.trashed, c.depth + 1 FROM chain c JOIN s3dfs_nodes n ON n.id = c.parent_id
				WHERE c.trashed = 0 AND c.depth <= 4096
			)
			UPDATE s3dfs_nodes SET tree_size = tree_size + $3, tree_mtime = {greatest}(tree_mtime + 1, $4),
				version = {greatest}(version + 1, $4)
			WHERE id IN (SELECT id FROM chain)`,
		listTrash: `SELECT {nodecols} FROM s3dfs_nodes n WHERE n.space_id = $1 AND n.trashed <> 0`,
		walkFirst: `SELECT {nodecols} FROM s3dfs_nodes n WHERE n.space_id = $1 ORDER BY n.id LIMIT 1000`,
		walkNext:  `SELECT {nodecols} FROM s3dfs_nodes n WHERE n.space_id = $1 AND n.id > $2 ORDER BY n.id LIMIT 1000`,
		bumpNS:    `UPDATE s3dfs_spaces SET ns = {greatest}(ns + 1, $2) WHERE id = $1`,
		readNS:    `SELECT ns FROM s3dfs_spaces WHERE id = $1`,

		insertSpace: `INSERT INTO s3dfs_spaces (id, version, ns, rec) VALUES ($1, $2, $2, $3) ON CONFLICT DO NOTHING`,
		readSpace:   `SELECT rec, version FROM s3dfs_spaces WHERE id = $1`,
		lockSpace:   `SELECT rec, version FROM s3dfs_spaces WHERE id = $1{forupdate}`,
		updateSpace: `UPDATE s3dfs_spaces SET rec = $2, version = $3 WHERE id = $1`,
		listSpaces:  `SELECT id, rec, version FROM s3dfs_spaces`,
		// Two statements for the nodes, so that each can use one of the
		// partial indexes.
		deleteSpace: []string{
			`DELETE FROM s3dfs_nodes WHERE space_id = $1 AND trashed = 0`,
			`DELETE FROM s3dfs_nodes WHERE space_id = $1 AND trashed <> 0`,
			`DELETE FROM s3dfs_space_index WHERE space_id = $1`,
			`DELETE FROM s3dfs_locks WHERE space_id = $1`,
			`DELETE FROM s3dfs_reservations WHERE space_id = $1`,
			`DELETE FROM s3dfs_spaces WHERE id = $1`,
		},
		insertIndex: `INSERT INTO s3dfs_space_index (idx, key, space_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		deleteIndex: `DELETE FROM s3dfs_space_index WHERE space_id = $1`,
		spacesBy: `SELECT s.id, s.rec, s.version FROM s3dfs_space_index i JOIN s3dfs_spaces s ON s.id = i.space_id
			WHERE i.idx = $1 AND i.key = $2`,

		insertUpload: `INSERT INTO s3dfs_uploads (id, rec) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
		readUpload:   `SELECT rec FROM s3dfs_uploads WHERE id = $1`,
		lockUpload:   `SELECT rec FROM s3dfs_uploads WHERE id = $1{forupdate}`,
		updateUpload: `UPDATE s3dfs_uploads SET rec = $2 WHERE id = $1`,
		deleteUpload: `DELETE FROM s3dfs_uploads WHERE id = $1`,
		listUploads:  `SELECT id, rec FROM s3dfs_uploads`,

		readLocks: `SELECT rec FROM s3dfs_locks WHERE space_id = $1`,
		putLock: `INSERT INTO s3dfs_locks (space_id, token, rec) VALUES ($1, $2, $3)
			ON CONFLICT (space_id, token) DO UPDATE SET rec = excluded.rec`,
		deleteLock:       `DELETE FROM s3dfs_locks WHERE space_id = $1 AND token = $2`,
		readReservations: `SELECT rec FROM s3dfs_reservations WHERE space_id = $1`,
		putReservation: `INSERT INTO s3dfs_reservations (space_id, id, rec) VALUES ($1, $2, $3)
			ON CONFLICT (space_id, id) DO UPDATE SET rec = excluded.rec`,
		deleteReservation: `DELETE FROM s3dfs_reservations WHERE space_id = $1 AND id = $2`,
	}
	for _, p := range q.fields() {
		*p = d.sql(*p)
	}
	for i := range q.deleteSpace {
		q.deleteSpace[i] = d.sql(q.deleteSpace[i])
	}
	return q
}

// all returns every statement.
func (q *queries) all() []string {
	var all []string
	for _, p := range q.fields() {
		all = append(all, *p)
	}
	return append(all, q.deleteSpace...)
}

func (q *queries) fields() []*string {
	return []*string{
		&q.readNode, &q.lockNode, &q.lookup, &q.list, &q.parentOf, &q.insertNode, &q.updateNode, &q.purgeNode,
		&q.moveLocks, &q.restoreLocks, &q.moveNode, &q.restoreNode, &q.trashNode, &q.markTrashed, &q.ancestors, &q.propagate,
		&q.listTrash, &q.walkFirst, &q.walkNext, &q.bumpNS, &q.readNS, &q.insertSpace, &q.readSpace, &q.lockSpace, &q.updateSpace,
		&q.listSpaces, &q.insertIndex, &q.deleteIndex, &q.spacesBy, &q.insertUpload, &q.readUpload,
		&q.lockUpload, &q.updateUpload, &q.deleteUpload, &q.listUploads,
		&q.readLocks, &q.putLock, &q.deleteLock, &q.readReservations, &q.putReservation, &q.deleteReservation,
	}
}
