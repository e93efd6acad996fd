// Package xattr is a node store that keeps every node record in an
// extended attribute of its file rather than in the file's content: a
// third point of comparison for the benchmarks, next to the msgpack files
// of metadata/mpk and the databases of metadata/sql.
//
// It is metadata/mpk with Options.RecordsInXattr set: the same layout,
// links, locks, caches and propagation. What differs is the cost of a
// record update, one setxattr(2) in place instead of a temp file and a
// rename (no inode created), and the limit on a record's size: ext4 keeps
// one attribute value within a block (about 4 KiB here), so a node with
// many dead properties or revisions does not fit and its update fails with
// metadata.ErrTooLarge. Records are read back with the same stamp
// validation as mpk's (a record update sets a new mtime on the file).
package xattr
