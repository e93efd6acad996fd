// Package mpk is the node store of s3dfs on a POSIX volume: one msgpack
// record file per node, folders as directories of links, no database.
//
// # On-disk layout
//
//	<root>/
//	  locks                              striped lock file (see lock.go), never unlinked
//	  indexes/<index>/<key>/<sid>        symlink -> sid: space indexes (owner, member,
//	                                     type; see index.go), derived from the records
//	  uploads/<id>.mpk                   resumable upload sessions
//	  spaces/<sid[0:2]>/<sid>/
//	    space.mpk                        the space record (written last: the commit of a new space)
//	    ns                               empty file; its mtime is the namespace version
//	    nodes/<id[0:2]>/<id>.mpk         a node record (msgpack, metadata.Node)
//	    nodes/<id[0:2]>/<id>/            a folder's directory: one symlink per child,
//	                                     named by the child's name, pointing at the child's id
//	    nodes/<id[0:2]>/.<id>.mpk.*.tmp  a record being replaced (a leftover one is garbage)
//	    nodes/<id[0:2]>/.pending.<id>    the link of a prepared node, renamed into its
//	                                     parent by Commit (a leftover one is garbage)
//	    trash/<id>                       symlink -> id: the node is in the trash; its
//	                                     lstat mtime is when it got there
//	    locks/<r>.mpk                    one WebDAV lock (metadata.EncodeLock); <r> is a
//	                                     random UUID per version of the lock
//	    reservations/<r>.mpk             one quota reservation (metadata.EncodeReservation)
//	    locks/.<r>.mpk.*.tmp, reservations/.<r>.mpk.*.tmp
//	                                     a record being written (a leftover one is garbage)
//
// A node's record path is a pure function of (space id, node id), so finding
// a node by id needs no index, and ids are validated UUIDs, so no path can
// leave the root. One level of 256 shard directories keeps the number of
// directories a new node may have to create at 256 per space, ever (two
// levels would mean one mkdir per create until some 65 000 nodes exist);
// ext4's hashed directories stay fast at millions of entries, i.e. a few
// hundred million nodes in one space.
//
// A folder's propagated values (tree size, tree mtime) live in the extended
// attribute user.s3dfs.tree of its record file (17 bytes, see record.go),
// so that propagation changes a file in place instead of creating one.
//
// A space's WebDAV locks and quota reservations are record sets (sets.go):
// one small immutable file per record, written once (temp file and rename)
// under a fresh random name and removed by unlink; a lock refresh writes a
// new version and unlinks the old one. They never go into space.mpk, which
// every request reads: no request can grow a record others must read. The
// directories are created by a space's first lock or reservation. A
// space.mpk written by older code may still hold locks and reservations
// (its "locks" and "res" fields); readers count them, and the first write
// of the space's locks, reservations or record moves them into the sets
// (spacestate.go). Every record written is at most metadata.MaxRecordSize;
// readers accept up to metadata.MaxReadSize, for records of older code.
//
// # Inode creations per operation
//
// Creating an inode is the expensive part of a write on this kind of disk
// (a create costs 5-10 overwrites in place), so every write path is
// designed by counting them:
//
//	CreateNode, file       2  the record (written in place: no reader can see it
//	                          before the link exists, so no temp file), the link
//	CreateNode, folder     3  the record, the directory, the link
//	PrepareNode + Commit   2  both in PrepareNode, which runs while an upload
//	                          streams; Commit renames the link into place
//	                          (RENAME_NOREPLACE) and creates nothing
//	UpdateNode             1  the temp file that replaces the record
//	MoveNode               1  the record's temp file (the link is renamed);
//	                          replacing a target adds 2 (its trash entry, its record)
//	TrashNode              2  the trash entry, the record's temp file
//	Propagate, per folder  0  setxattr and utimensat on existing files
//	PurgeNode              0
//	UpdateLocks            1  per lock put (a new lock, or a refresh: its new
//	                          version's file); 0 per lock deleted
//	UpdateReservations     1  per reservation put; 0 per reservation released
//
// plus, rarely, a shard directory, and a space's locks/ or reservations/
// directory with its first record. No operation creates a lock file of the
// striped kind (lock.go). The space record is rewritten only by
// UpdateSpace (1): never by locks or reservations.
//
// # Coherence without notifications
//
// Every cached value is validated by the stamp (device, inode, size, mtime,
// ctime) of the file it came from, taken before the value was read: a node
// record by its record file, a folder listing and a name lookup by the
// folder's directory. Writers make every change visible in a stamp, also
// where the filesystem clock is too coarse to tell two writes apart:
//
//   - a replaced record is a new inode, and gets an mtime greater than the
//     old one's (cache.NextAfter), so even a reused inode number with the
//     same size within one clock tick differs;
//   - a propagation step sets the tree attribute, then a new mtime on the
//     record;
//   - every change of a folder's entries, and every change of a child's
//     record or tree values, is followed by a new mtime on the folder's
//     directory, set under the folder's lock. That is what lets one stat of
//     the directory validate a whole cached listing, children's sizes and
//     etags included;
//   - every folder move, rename, trash or restore sets a new mtime on the
//     space's ns file, which validates cached paths (package lookup).
//
// Because the stamp is taken before the value is read, a cached value is
// never older than its stamp: a racing write can only make the entry look
// stale (a wasted refill), never make a stale entry look fresh.
//
// What stamps cannot catch: a change that a writer made without following
// this protocol (an editor on the volume keeping inode, size and mtime) and,
// on network filesystems, a change the client's attribute cache hides. On
// NFS, mount with actimeo=0 (or at least acdirmin=0,acdirmax=0 and
// acregmin=0,acregmax=0) so that every stat asks the server, and
// lookupcache=positive (or none) so that a removed link is not remembered;
// noacl saves a round trip per access check. With those, a stat costs one
// GETATTR round trip to the server, which is the price of coherence across
// hosts; relaxed mode (cache.Relaxed) trades it away for a bounded
// staleness. CephFS keeps attributes coherent through its capabilities and
// needs nothing special.
//
// # Locks
//
// The lock order and the locks themselves are described at the top of
// lock.go. Every read-modify-write reads the record from disk, not from a
// cache, while it holds the node's lock. The record sets of a space have a
// stripe each ("locks:" and "reservations:" with the space id), taken alone
// by their writers; UpdateSpace takes them together with the space
// record's ("space:"), in one lockNodes call, to move the state of older
// code out of the record.
//
// # Durability
//
// With DurabilityFsync a write returns after the records it wrote and the
// directories naming them are flushed. Propagated values are not flushed
// step by step: they are derived, and the checker recomputes them after a
// crash. A process killed at any point leaves at worst a temp file, a
// record without a link, or a link or trash entry whose record still has
// the old placement: each is something `s3dfs check` recognises and
// repairs; the link is the commit point and wins.
package mpk
