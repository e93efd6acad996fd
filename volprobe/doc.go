// Package volprobe proves that a shared metadata volume gives s3dfs what its
// design needs, before a server accepts writes and then continuously, and
// says so in one verdict: the volume is safe to write, or it is not, and why.
//
// s3dfs trusts its metadata volume for two things that a local disk gives
// and a network filesystem may not:
//
//   - exclusive locks across every process that shares the root: OFD
//     byte-range locks on <root>/locks (the node locks) and flock on files
//     (the per-space namespace locks), see metadata/mpk/lock.go;
//   - changes that one process makes (a replaced file, an extended
//     attribute, an mtime set in place) visible to every other process at
//     once, or in relaxed cache mode within its bound: the stat-validated
//     cache serves what the stamps say.
//
// Processes on different hosts cannot talk to each other except through
// the volume and the bucket. The bucket (any blobstore.Store that all of
// them share) is the witness: S3 is read-after-write consistent, so what a
// process announces there is what the others must then find on the volume.
//
// # The protocol
//
// Every process (a Monitor) creates, below <root>/volume/,
//
//	id           the volume's identity: a random id, created once (link(2), so
//	             that concurrent first starts agree), never changed
//	<pid>        its stamp file: it holds flock on it for its whole life and,
//	             every round, sets the extended attribute user.s3dfs.probe to the
//	             round's sequence number and then a new mtime (in place, like the
//	             tree values and the namespace version of mpk)
//	<pid>.rec    its record file: replaced every round by a temp file and
//	             rename(2) (like a node record), holding the sequence number
//
// (<pid> is the process's random probe id, not its pid), holds an OFD lock
// on one byte of <root>/locks far above mpk's stripes (1<<24 plus a random
// offset), and announces itself in the witness under
//
//	s3dfs-volume/peers/<pid>                   JSON: host, pid, root, volume id,
//	                                           lock byte, round interval, the
//	                                           last round's sequence number and
//	                                           the stamp file's mtime then
//	s3dfs-volume/challenges/<target>.<pid>     "I was granted your lock"
//
// A round is: write the own files, list the witness, announce the round
// (its sequence number, the stamp's mtime, the challenges the listing
// showed), then for the other processes (the peers):
//
//  1. the volume ids must match: another id means two metadata roots share
//     one bucket (or the volume does not show one file the same way to all);
//  2. the peer's lock byte and its stamp file's flock must be refused. A lock
//     that is granted is not yet proof (the peer may have died a moment ago,
//     which releases its locks): the prober keeps holding what it got and
//     writes a challenge. A live peer sees the challenge in its next round,
//     knows that its own lock is not exclusive (it holds it for its whole
//     life) and fails; it acknowledges the challenge in its announcement,
//     and then the prober fails too. A peer that does not answer within its
//     time to live was dead: the prober drops the challenge;
//  3. for one peer per round (round robin, and every new peer at once), what
//     the peer's announcement says must be on the volume: the stamp file's
//     mtime (by stat and by fstat of a kept descriptor), its extended
//     attribute and the record file's content must show the announced
//     round or a later one. The peer wrote them before it announced, so on
//     a coherent volume the first look sees them. Otherwise the prober looks
//     again until they show (or 5 s pass) and so measures the staleness,
//     which must stay within the cache mode's bound (0 in strict mode).
//
// A round costs three small requests to the witness (one PUT, one LIST,
// one GET), plus one GET per new peer and per open challenge; nothing in
// a round touches user data. A process also checks that its own last
// announcement is still listed: a bucket that lost it (removed and created
// again behind the servers' back) no longer holds the blobs either.
//
// Announcements expire: a peer whose announcement did not change for its
// announced time to live (three of its intervals and StaleCaps, plus
// Options.Grace) is dead, and any process removes its
// announcement, its challenges and its files. On the same host (same boot,
// same pid namespace) a peer whose process is gone is dead at once, so a
// server that restarts after a crash does not wait for its own old
// announcement to expire. A process that stops removes its own.
//
// # The verdict
//
// Monitor.Err is nil while the volume is known safe. It returns an error
// (wrapping ErrUnsafe) before the first round passed, while a round fails,
// and until Options.Recover rounds in a row have passed again after a
// failure; and once the witness could not be reached for the process's
// time to live (wrapping ErrUnverified): then nothing proves that the
// volume is still coherent. A server answers writes with 503 and
// /readyz with 503 while Err is not nil; reads go on.
//
// Before the first round, a Monitor also checks what one process can see
// alone (LocalChecks): user extended attributes, nanosecond times,
// RENAME_NOREPLACE, that a file replaced by rename(2) is never missing for
// a reader (a SeaweedFS mount fails this one), directory fsync, and OFD
// locks and flock between two open file descriptions. A failure there
// fails every round. Doctor runs all of it on demand, adds a check
// across two processes on this host (a helper process), watches the
// witness for a while so that doctor runs on several hosts find each other,
// and returns a verdict table.
package volprobe
