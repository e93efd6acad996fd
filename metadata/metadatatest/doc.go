// Package metadatatest is the conformance suite of metadata.Backend: every
// node store (metadata/mpk, a database-backed one, ...) runs it from a few
// lines of its own tests and so is held to the same behaviour.
//
//	func TestSuite(t *testing.T) {
//		metadatatest.Run(t, metadatatest.Harness{New: newStore})
//	}
//
// The suite tests behaviour only through the metadata.Backend interface and
// the sentinel errors of package metadata; it knows nothing of files, rows or
// caches. Where it needs a second process it asks the harness for a second,
// independent handle on the same store (its own caches, its own locks), and
// checks that a change made through one handle is visible through the other
// on the very next read: the strict coherence the interface promises.
//
// What each test proves is written next to it. The suite is kept fast
// (seconds) and free of sleeps: concurrency tests start their goroutines
// together on a closed channel and check invariants that must hold for every
// interleaving, so they fail on a bad interleaving whenever it happens and
// never because a machine is slow.
package metadatatest
