// Package posix is the blobstore.Store that keeps blobs as plain files below
// one local directory: the embedded default, and a baseline for the S3
// store. Several processes may share the directory.
//
// # On-disk layout
//
//	<dir>/
//	  .tmp/                 in-flight writes (put-, copy-, part-, complete-,
//	  │                     upload-<random>), renamed away on success, removed on
//	  │                     failure; gone-<upload id>/, an ended upload being
//	  │                     removed. New sweeps what a crash left here after
//	  │                     Options.StaleTempAge.
//	  .uploads/
//	    <upload id>/        a multipart upload: 32 random hex digits
//	      upload.json       {"v":1,"key":"…","metadata":{…}}, written once
//	      <n>               part n (1 to 10000, no leading zeros), with xattr
//	                        user.s3dfs.etag = hex MD5 of the part
//	  blobs/
//	    <seg1>/<seg2>/…/<segN>   the blob with key "seg1/seg2/…/segN": a regular
//	                             file holding exactly the blob's bytes, mode
//	                             Options.FileMode, with xattr
//	                             user.s3dfs.meta = {"key":"value",…} (JSON)
//	                             when the blob has metadata
//
// The blobs live one level down, not in <dir> itself, so that no key
// (".tmp/x" and ".uploads/x" are valid ones) can collide with the store's
// own files, and List, which walks blobs/ only, never shows them.
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
// Copy (blobstore.Copier) writes a new inode, never a hard link, which
// would share the metadata xattr with the source: a reflink (FICLONE) where
// the file system shares extents, else copy_file_range(2), else a
// read/write loop. The result is published like a Put.
//
// Multipart uploads (blobstore.Multiparter) keep their parts as files in
// .uploads/<id>/, so any process sharing the directory can go on with an
// upload. UploadPart writes a part like a Put (temp file, rename), so a
// re-upload replaces it whole. CompleteMultipart concatenates the parts with
// copy_file_range into a temp file, checking each part's size and ETag on
// the file it copies from, publishes it like a Put, and then ends the upload
// by renaming its directory into .tmp/ and removing it there; a crash before
// the publish leaves the upload whole, and AbortMultipart ends an upload the
// same way. MinPartSize is 1 byte. Uploads that are neither completed nor
// aborted stay forever: the caller tracks and aborts them.
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
