// Package check finds and repairs inconsistencies between the tree, the
// metadata and the blobs of an s3dfs store, safely on a live system and in
// bounded memory at any scale. It owns the finding codes (finding.go), the
// check (Checker.Run), the repair (Repairer.Apply), undo and purge of what
// repairs quarantined, and the checker's files below the store's root.
// `s3dfs check` is its command line; checktest lets any test assert in one
// line that a store is consistent.
//
// # Findings
//
// A Finding has a stable Code, a Severity (warning: nothing users see is
// wrong, or nothing is lost; error: users see something wrong or data is at
// risk), the ids it is about (space, node, folder entry, blob key, upload),
// a path for people where there is one, the file on disk, the evidence
// (expected and actual, in words, and Facts for the repair) and the Remedy.
// `s3dfs check codes` and Classes list them; in repair order:
//
//	space.incomplete     warning  space directory without space.mpk         -> move-aside
//	space.record         error    space record or ns/nodes/trash unreadable -> rebuild-space
//	space.root           error    root folder record or directory broken    -> rebuild-record, make-dir
//	node.outside-space   error    node file no id maps to, or naming another node or space -> move-aside, rewrite-record
//	record.corrupt       error    record that does not decode               -> rebuild-record (linked), move-aside
//	record.empty         warning  empty record nothing links to (interrupted create) -> move-aside
//	record.invalid       error    record missing or breaking a required field -> rebuild-record, move-aside
//	link.invalid         error    folder entry that is not a link to an id  -> unlink-entry
//	link.dangling        error    folder entry to a node without record     -> unlink-entry
//	link.duplicate       error    node linked twice (or a cycle link)       -> unlink-entry
//	link.mismatch        warning  record's parent/name disagree with its link (interrupted move) -> rewrite-record
//	dir.missing          error    folder record without directory           -> make-dir
//	trash.dangling       warning  trash entry without record                -> remove-trash-item
//	trash.invalid        warning  malformed trash entry                     -> remove-trash-item
//	trash.linked         warning  linked node with a trash entry or mark    -> untrash (the link wins)
//	trash.unmarked       warning  unlinked trash item without its mark      -> mark-trashed
//	trash.entry-missing  error    marked, unlinked node without trash entry -> add-trash-entry
//	chain.broken         error    subtree below a missing or file parent    -> lost-and-found
//	chain.cycle          error    folders linked in a cycle                 -> lost-and-found
//	node.unlinked        warning  record nothing links to (interrupted create) -> move-aside, lost-and-found (with content)
//	node.pending         warning  prepared node whose upload never committed -> move-aside
//	pending.dangling     warning  pending link of a committed or gone node  -> move-aside
//	dir.orphan           warning  folder directory without a folder record  -> move-aside (once empty)
//	tmp.leftover         warning  temp file of an unfinished replacement    -> move-aside
//	stray.file           warning  file the store does not use               -> move-aside
//	lock.stale           warning  per-node lock file of a gone node         -> move-aside
//	blob.missing         error    file whose blob is missing                -> lost-and-found (without content)
//	blob.size            error    blob size differs from the record's       -> fix-size (the blob wins)
//	blob.shared          error    blob referenced by several nodes          -> copy-blob
//	blob.foreign         warning  object whose key is no blob key           -> none
//	revision.dangling    error    revision whose blob is missing or resized -> drop-revision, fix-size
//	upload.corrupt       warning  unreadable upload record                  -> move-aside
//	upload.stale         warning  expired upload, or a finished one never closed -> abort-upload
//	upload.orphan        warning  upload into a space that does not exist   -> abort-upload
//	upload.tail-missing  error    upload lacking a chunk it recorded        -> abort-upload
//	quota.reservation    warning  quota held by no upload in progress       -> drop-reservation
//	blob.orphan          warning  blob nothing references                   -> quarantine-blob
//	tree.size            warning  folder tree size != sum of files below    -> recompute-tree
//	tree.mtime           warning  folder tree mtime older than a subfolder's -> recompute-tree
//
// Every crash state that metadata/mpk and decomposedfs document (a record
// without its link, a prepared node, an interrupted trash, move, restore,
// purge or propagation, a finish that died before closing its upload)
// maps to a repairable finding; the crash test holds the checker to that.
// This layout has no per-node lock files (it locks stripes of one shared
// file), so lock.stale only finds those of older layouts or of hand-made
// copies. A space's WebDAV locks and quota reservations (locks/ and
// reservations/ in its directory) are read too: what does not decode is a
// stray.file, their temp files tmp.leftover, and reservations no upload
// holds quota.reservation; locks and reservations that older code kept in
// space.mpk are read with it (records up to metadata.MaxReadSize), so such
// a record is not reported as unreadable and a repair keeps it whole. Space indexes (<root>/indexes) are derived and filtered by
// their readers, and are not checked.
//
// # Phases and how the check reads
//
// The phases (nodes, tree, trash, blobs, uploads, revisions) select what is
// reported; the reading is shared. Per space (space.go): the live walk
// follows links from the root (walk.go), a LIFO of folder tasks served by
// Options.Workers goroutines, reading each child's record once (without
// its stamp when it is an ordinary file whose record agrees with its link)
// and summing file sizes bottom-up against the stored tree sizes; the
// trash walk does the same from every trash entry; the shard scan lists
// every name in the space's shard directories. Walks and scan write one
// 34-byte entry per thing seen into an external sort by node id (the
// merge, merge.go), so that records nothing reached, directories without
// records, links reached twice and lock files of gone nodes show up in id
// order without a map of all nodes. Unreached records are read and
// explained, and the tops of detached subtrees are walked like the trash.
// Every record's blobs (content and revisions), every live upload's chunks
// and target, go into a second external sort by (space, blob), and the blob
// phase merge-joins it with the blob store's listing, which comes in the
// same order (blobs.go). Memory: the sorts' budgets (Options.SortMemory
// each, spilled to Options.TempDir beyond), the walks' tasks (about workers
// times depth), one listing page per prefix in flight, and the findings
// held for verification (Options.MaxHeld).
//
// The blob listing is split into 256 prefixes above Options.ListSplit
// references and runs up to Options.ListConcurrency prefixes ahead of the
// merge; a prefix whose listing fails is listed again from its last key
// (Options.ListRetries, with backoff), and every request to the store waits
// for Options.RequestRate. Objects whose keys do not start with two hex
// digits (the quarantine prefix, say) are not blobs of any space and are
// not looked at.
//
// # Safe on a live system
//
// The cutoff is taken before anything is read. Blobs younger than
// Options.Grace are never orphans, nor are chunks of live uploads (their
// records own them), nor blobs whose back-pointer names a prepared node
// younger than Options.PendingGrace. Every finding names the files it was
// concluded from with the stamps they had (hold.go); it is reported only
// if none changed since the cutoff and none changes during
// Options.Settle after it was read, which is what an operation in flight
// (a propagation racing the walk, an overwrite committing the blob just
// listed) always does. The check takes no locks and writes nothing but its
// summary.
//
// # Repair
//
// Repair is two-phase: a report (NDJSON, report.go) is written first and
// then applied (repair*.go), from the same run (--repair) or from a reviewed
// file (--apply-from). Findings are applied class by class in repair order
// (structure, trash, detached subtrees, leftovers, content, uploads,
// orphans, then tree values, deepest folders first, recomputed one level at
// a time over children that are right already). Each repair re-verifies its
// finding at that moment under the locks of what it changes (the
// primitives in metadata/mpk/scan_repair.go take the same locks, in the
// same order, as the operations they mend) and skips it if the finding no
// longer holds or if what it is about changed after the check's cutoff in
// a way this repair did not make. Nothing is deleted: metadata files go to
// the run's quarantine directory, blobs under the quarantine prefix, each
// with a manifest line written and flushed before the move, so that
// `s3dfs check undo RUN` can bring them back and `purge-quarantine` delete
// them for good later. After an incomplete check (a read or listing
// error), no remedy that takes something out of the store runs. One
// repair, undo or purge at a time (LockRuns).
//
// A blast-radius guard (guard.go) refuses, before anything changes, a
// report whose repair would move more than a share of the checked nodes
// to lost+found (or unlink their entries) or quarantine more than that
// share of the listed blobs (Limit; DefaultLimit 5%, above 20 items):
// crash leftovers never come near that, a wrong or emptied blob store
// does. RepairOptions.Force overrides it.
//
// The manifest (runs.go) records every step that takes something out of
// the store or out of its place, before the step: files and blobs moved
// to quarantine, nodes relinked into lost+found with their old place,
// the content taken from a file whose blob was missing, the folders made.
// Undo (undo.go) reverses them newest first, and reports and fails on
// what it cannot put back; rebuilt records and recomputed tree values
// stay.
//
// # Files below the root
//
//	<root>/check/lock                      run lock (flock), never unlinked
//	<root>/check/last-summary.json         the last check's summary
//	<root>/check/last-repair.json          the last repair's summary
//	<root>/check/runs/<run>/               report.ndjson, repairs.ndjson, manifest.ndjson,
//	                                       summary.json, quarantine/<path below root>
//	<quarantine prefix><run>/<blob key>    quarantined blobs, in the blob store
//
// # Exit codes
//
// 0 nothing found, 1 warnings only, 2 errors, 3 the check could not finish
// or could not read everything (Summary.ExitCode; after a repair,
// RepairSummary.ExitCode by what was left).
package check
