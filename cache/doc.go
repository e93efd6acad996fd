// Package cache is the stat-validated, memory-bounded cache in front of hot
// metadata reads.
//
// Every entry carries the [Stamp] of the file its value was read from:
// (device, inode, size, mtime ns, ctime ns), taken before the value was
// read. In [Strict] mode a hit costs one stat(2) of that file and is served
// only if the stamp still matches, so a change made by any process on any
// host sharing the volume is seen on the next read, without file-change
// notifications (which do not cross hosts on NFS or CephFS) and without
// trusting a TTL. [Relaxed] mode serves a hit without the stat for up to a
// configured staleness, for read-heavy installs that accept not being
// coherent within that window.
//
// What a stamp catches: a file replaced by rename (new inode), resized, or
// written or chmod'ed at a time the filesystem clock can tell apart from
// the previous change. What it cannot catch alone: two same-size in-place
// writes within one tick of a coarse filesystem clock (ext4 timestamps
// advance with the kernel tick unless the kernel's multigrain timestamps
// apply), and an inode number reused by a replacement of the same size
// within that tick. s3dfs writers close both gaps by setting every changed
// file's mtime explicitly to a value no earlier version had ([NextTime],
// [NextAfter]); a writer that bypasses that protocol is not covered. On
// NFS, a stamp is only as fresh as the client's attribute cache: see the
// documentation of metadata/mpk for the mount options that keep it honest.
//
// Memory is bounded by cost (an estimate of each entry's bytes) with
// ristretto, whose admission policy may also decline to keep an entry; a
// declined or evicted entry is simply a miss. Concurrent misses on one key
// share one load (single-flight); a caller that joined a load already under
// way validates the result once more, so that joining never returns data
// older than the caller's own start.
package cache
