// Package posix is the blobstore.Store that keeps blobs as plain files below
// one local directory: the embedded default, and a baseline for the S3
// store. Several processes may share the directory.
//
// # On-disk layout
//
//	<dir>/
//	  .tmp/                 in-flight Puts: put-<random>, one per Put, renamed away
//	  │                     on success, removed on failure, swept by New after
//	  │                     Options.StaleTempAge if a crash left them
//	  blobs/
//	    <seg1>/<seg2>/…/<segN>   the blob with key "seg1/seg2/…/segN": a regular
//	                             file holding exactly the blob's bytes, mode
//	                             Options.FileMode, with xattr
//	                             user.s3dfs.meta = {"key":"value",…} (JSON)
//	                             when the blob has metadata
//
// The blobs live one level down, not in <dir> itself, so that no key
// (".tmp/x" is a valid one) can collide with the store's own files.
//
// # Promises
//
// Put writes a temp file in .tmp/ (the same file system as blobs/, so the
// rename is atomic), sets the metadata xattr on it, fsyncs it when
// Options.Fsync is set, and rename(2)s it into place, then fsyncs the
// directories whose entries changed. Content and metadata belong to one
// inode and appear together; a failed or cancelled Put leaves nothing
// visible and keeps the blob it would have replaced.
//
// Open reads from the file it opened, so an open reader is a stable
// snapshot even if the key is overwritten or deleted meanwhile. Stat takes
// size and metadata from one open file for the same reason.
//
// Delete unlinks the file and then removes parent directories that became
// empty, up to blobs/; a Put racing with that prune re-creates the
// directories and retries its rename. Delete does not fsync.
//
// List walks blobs/ depth-first, holding one directory's entries per level,
// and yields keys in byte order (see List for why sorting each directory
// by name would not do). .tmp/ is never listed, nor are symlinks, special
// files and names that no key can have.
//
// # Limits
//
// A key is a path, so this store cannot hold both "a" and "a/b" (neither
// can S3 servers that map keys to files, such as versitygw's posix
// backend): the second Put fails with blobstore.ErrInvalidKey. Key
// segments longer than 255 bytes (NAME_MAX) are invalid keys here.
//
// The file system must support user extended attributes (ext4, XFS, btrfs,
// tmpfs since Linux 6.6, NFS 4.2 with xattr support); New checks this and
// fails otherwise. There is no sidecar fallback: a second file per blob
// would cost an inode per blob and make a Put two renames, no longer atomic.
package posix
