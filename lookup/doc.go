// Package lookup resolves paths to nodes and nodes to paths within a space.
//
// Path math (Split, Join, Canonical) needs nothing but the standard library.
// The Resolver walks a path one segment at a time through
// metadata.Backend.Lookup, each step validated by the backend's own caches
// (for metadata/mpk: one stat of the folder directory), and caches whole
// answers on top: a hot resolution of a path of any depth costs two
// validations, the space's namespace version and the target's record,
// instead of one per segment. See Resolver for why those two are enough.
//
// Liveness: a node in the trash keeps its record, and the nodes below a
// trashed folder are not marked at all. A node is live exactly when its
// parent chain reaches the space root without passing a trashed node, which
// is what PathOf checks (cached the same way).
package lookup
