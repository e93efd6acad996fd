package check

import (
	"fmt"
	"slices"
	"strings"
)

// Code names a class of finding. Codes are stable: scripts and monitoring
// match on them, so a code is never renamed or reused for something else.
type Code string

// Severity says how bad a finding is.
type Severity string

const (
	// Warning: nothing a user sees is wrong (a leftover of a crash, garbage
	// that takes space, a derived value that lags), or it is wrong in a way
	// that loses nothing.
	Warning Severity = "warning"
	// Error: something users see is wrong or at risk (a file without
	// content, a folder that cannot be listed, a subtree nobody can reach).
	Error Severity = "error"
)

func (s Severity) rank() int {
	switch s {
	case Warning:
		return 1
	case Error:
		return 2
	}
	return 0
}

// Remedy is what a repair does about a finding.
type Remedy string

// Remedies. Every one re-verifies the finding under the locks of what it
// changes before it changes anything, and none deletes data: what leaves
// the store goes to the run's quarantine (metadata files to
// <root>/check/runs/<run>/quarantine, blobs under the quarantine prefix),
// from where `s3dfs check undo` brings it back.
const (
	RemedyNone            Remedy = "none"              // reported only; needs a human
	RemedyRecomputeTree   Remedy = "recompute-tree"    // set tree size and mtime from the children, bottom-up
	RemedyRewriteRecord   Remedy = "rewrite-record"    // correct fields of a readable record (the link wins)
	RemedyRebuildRecord   Remedy = "rebuild-record"    // replace an unreadable record with one rebuilt from what is known
	RemedyRebuildSpace    Remedy = "rebuild-space"     // rebuild the space record and its fixed files
	RemedyUnlinkEntry     Remedy = "unlink-entry"      // take a folder entry out (to quarantine)
	RemedyMoveAside       Remedy = "move-aside"        // take a file or directory out of the store (to quarantine)
	RemedyLostAndFound    Remedy = "lost-and-found"    // link the node into /lost+found/<run>/ of its space
	RemedyMakeDir         Remedy = "make-dir"          // create a folder's missing directory
	RemedyMarkTrashed     Remedy = "mark-trashed"      // finish an interrupted trash: set the mark
	RemedyUntrash         Remedy = "untrash"           // the link wins: drop the trash entry and mark
	RemedyAddTrashEntry   Remedy = "add-trash-entry"   // make a trashed node findable in the trash again
	RemedyQuarantineBlob  Remedy = "quarantine-blob"   // move the blob under the quarantine prefix, with a manifest
	RemedyFixSize         Remedy = "fix-size"          // the blob is the content: take its size, drop stale checksums
	RemedyCopyBlob        Remedy = "copy-blob"         // give each extra node its own copy of a shared blob
	RemedyAbortUpload     Remedy = "abort-upload"      // abort the multipart upload, quarantine its chunks, take the record out
	RemedyRemoveTrashItem Remedy = "remove-trash-item" // take a broken trash entry out (to quarantine)
	RemedyDropRevision    Remedy = "drop-revision"     // remove a revision whose content is gone from the file's record
	RemedyDropReservation Remedy = "drop-reservation"  // give back quota that nothing holds any more
)

// Phase is a part of the check that can be selected on its own.
type Phase string

const (
	PhaseNodes     Phase = "nodes"     // records, links, parent chains, leftovers on the volume
	PhaseTree      Phase = "tree"      // propagated tree sizes and mtimes
	PhaseTrash     Phase = "trash"     // trash entries and marks
	PhaseBlobs     Phase = "blobs"     // blobs against the records that reference them
	PhaseUploads   Phase = "uploads"   // resumable upload sessions
	PhaseRevisions Phase = "revisions" // file revisions
)

// AllPhases in the order they are reported.
var AllPhases = []Phase{PhaseNodes, PhaseTree, PhaseTrash, PhaseBlobs, PhaseUploads, PhaseRevisions}

// Class describes a Code.
type Class struct {
	Code     Code
	Severity Severity
	Phase    Phase
	Title    string
	// Remedies are what a repair may do, depending on the evidence.
	Remedies []Remedy
	// order is the repair order: lower first. Structure before content,
	// content before derived values, so that tree sizes are recomputed
	// over what the other repairs leave.
	order int
}

// The finding codes.
const (
	SpaceIncomplete   Code = "space.incomplete"
	SpaceRecord       Code = "space.record"
	SpaceRoot         Code = "space.root"
	NodeOutsideSpace  Code = "node.outside-space"
	RecordCorrupt     Code = "record.corrupt"
	RecordEmpty       Code = "record.empty"
	RecordInvalid     Code = "record.invalid"
	LinkDangling      Code = "link.dangling"
	LinkInvalid       Code = "link.invalid"
	LinkMismatch      Code = "link.mismatch"
	LinkDuplicate     Code = "link.duplicate"
	DirMissing        Code = "dir.missing"
	DirOrphan         Code = "dir.orphan"
	NodeUnlinked      Code = "node.unlinked"
	NodePending       Code = "node.pending"
	PendingDangling   Code = "pending.dangling"
	ChainBroken       Code = "chain.broken"
	ChainCycle        Code = "chain.cycle"
	TempLeftover      Code = "tmp.leftover"
	StrayFile         Code = "stray.file"
	LockStale         Code = "lock.stale"
	TrashDangling     Code = "trash.dangling"
	TrashInvalid      Code = "trash.invalid"
	TrashLinked       Code = "trash.linked"
	TrashUnmarked     Code = "trash.unmarked"
	TrashEntryMissing Code = "trash.entry-missing"
	TreeSize          Code = "tree.size"
	TreeMtime         Code = "tree.mtime"
	BlobMissing       Code = "blob.missing"
	BlobSize          Code = "blob.size"
	BlobShared        Code = "blob.shared"
	BlobOrphan        Code = "blob.orphan"
	BlobForeign       Code = "blob.foreign"
	UploadCorrupt     Code = "upload.corrupt"
	UploadStale       Code = "upload.stale"
	UploadOrphan      Code = "upload.orphan"
	UploadTailMissing Code = "upload.tail-missing"
	RevisionDangling  Code = "revision.dangling"
	QuotaReservation  Code = "quota.reservation"
)

var classes = []Class{
	{SpaceIncomplete, Warning, PhaseNodes, "space directory without a space record (a create or a delete that did not finish)", []Remedy{RemedyMoveAside}, 0},
	{SpaceRecord, Error, PhaseNodes, "space with content whose record or fixed files (ns, nodes/, trash/) are missing or unreadable", []Remedy{RemedyRebuildSpace}, 0},
	{SpaceRoot, Error, PhaseNodes, "space root folder record or directory missing or unreadable", []Remedy{RemedyRebuildRecord, RemedyMakeDir}, 1},
	{NodeOutsideSpace, Error, PhaseNodes, "node record or directory at a place no node of any space maps to, or a record naming another node or space", []Remedy{RemedyMoveAside, RemedyRewriteRecord}, 2},
	{RecordCorrupt, Error, PhaseNodes, "node record that cannot be decoded (empty, truncated, garbage)", []Remedy{RemedyRebuildRecord, RemedyMoveAside}, 2},
	{RecordEmpty, Warning, PhaseNodes, "empty node record that nothing links to (a create cut short between creating the record and writing it)", []Remedy{RemedyMoveAside}, 2},
	{RecordInvalid, Error, PhaseNodes, "node record that decodes but misses or breaks a required field", []Remedy{RemedyRebuildRecord, RemedyMoveAside}, 2},
	{LinkInvalid, Error, PhaseNodes, "folder entry that is not a link to a node id", []Remedy{RemedyUnlinkEntry}, 3},
	{LinkDangling, Error, PhaseNodes, "folder entry linking to a node that has no record", []Remedy{RemedyUnlinkEntry}, 3},
	{LinkDuplicate, Error, PhaseNodes, "node linked from more than one folder entry", []Remedy{RemedyUnlinkEntry}, 3},
	{LinkMismatch, Warning, PhaseNodes, "record's parent or name disagrees with the link that names it (an interrupted move)", []Remedy{RemedyRewriteRecord}, 3},
	{DirMissing, Error, PhaseNodes, "folder record without its directory", []Remedy{RemedyMakeDir}, 3},
	{TrashDangling, Warning, PhaseTrash, "trash entry of a node that has no record (an interrupted purge)", []Remedy{RemedyRemoveTrashItem}, 4},
	{TrashInvalid, Warning, PhaseTrash, "trash entry that is not a link named by the node it links to", []Remedy{RemedyRemoveTrashItem}, 4},
	{TrashLinked, Warning, PhaseTrash, "node in a folder that also has a trash entry or mark (an interrupted trash or restore; the link wins)", []Remedy{RemedyUntrash}, 4},
	{TrashUnmarked, Warning, PhaseTrash, "unlinked node with a trash entry but no trash mark (an interrupted trash)", []Remedy{RemedyMarkTrashed}, 4},
	{TrashEntryMissing, Error, PhaseTrash, "trashed node without a trash entry: invisible in the trash", []Remedy{RemedyAddTrashEntry}, 4},
	{ChainBroken, Error, PhaseNodes, "top of a subtree whose parent folder has no readable record: nothing reaches it", []Remedy{RemedyLostAndFound}, 5},
	{ChainCycle, Error, PhaseNodes, "folders linked in a cycle: nothing reaches them", []Remedy{RemedyLostAndFound}, 5},
	{NodeUnlinked, Warning, PhaseNodes, "node record that no folder entry links to and that is not in the trash (an interrupted create)", []Remedy{RemedyMoveAside, RemedyLostAndFound}, 5},
	{NodePending, Warning, PhaseNodes, "prepared node whose upload never committed", []Remedy{RemedyMoveAside}, 5},
	{PendingDangling, Warning, PhaseNodes, "pending link left after its node was committed or removed", []Remedy{RemedyMoveAside}, 5},
	{DirOrphan, Warning, PhaseNodes, "folder directory without a folder record", []Remedy{RemedyMoveAside}, 6},
	{TempLeftover, Warning, PhaseNodes, "temp file of a record replacement that did not finish", []Remedy{RemedyMoveAside}, 6},
	{StrayFile, Warning, PhaseNodes, "file the store does not know in a directory it owns", []Remedy{RemedyMoveAside}, 6},
	{LockStale, Warning, PhaseNodes, "per-node lock file of a node that does not exist (this layout locks stripes of <root>/locks)", []Remedy{RemedyMoveAside}, 6},
	{BlobMissing, Error, PhaseBlobs, "file whose blob is not in the blob store", []Remedy{RemedyLostAndFound}, 7},
	{BlobSize, Error, PhaseBlobs, "blob whose size differs from the size its record says", []Remedy{RemedyFixSize}, 7},
	{BlobShared, Error, PhaseBlobs, "blob referenced by more than one node", []Remedy{RemedyCopyBlob}, 7},
	{BlobForeign, Warning, PhaseBlobs, "object in the bucket whose key is not a blob key of s3dfs", []Remedy{RemedyNone}, 7},
	{UploadCorrupt, Warning, PhaseUploads, "upload record that cannot be read", []Remedy{RemedyMoveAside}, 8},
	{UploadStale, Warning, PhaseUploads, "upload session past its expiry", []Remedy{RemedyAbortUpload}, 8},
	{UploadOrphan, Warning, PhaseUploads, "upload session whose space no longer exists", []Remedy{RemedyAbortUpload}, 8},
	{UploadTailMissing, Error, PhaseUploads, "upload session that lacks a chunk it recorded (it can never complete)", []Remedy{RemedyAbortUpload}, 8},
	{BlobOrphan, Warning, PhaseBlobs, "blob that no node, trash item, revision or live upload references", []Remedy{RemedyQuarantineBlob}, 9},
	{QuotaReservation, Warning, PhaseUploads, "quota reservation that no upload in progress holds (a crashed upload)", []Remedy{RemedyDropReservation}, 8},
	{RevisionDangling, Error, PhaseRevisions, "file revision whose blob is missing or has another size than recorded", []Remedy{RemedyDropRevision, RemedyFixSize}, 7},
	{TreeSize, Warning, PhaseTree, "folder tree size differs from the sum of the files below it", []Remedy{RemedyRecomputeTree}, 10},
	{TreeMtime, Warning, PhaseTree, "folder tree mtime older than a subfolder's: a change below never reached it", []Remedy{RemedyRecomputeTree}, 10},
}

var classByCode = func() map[Code]Class {
	m := make(map[Code]Class, len(classes))
	for _, c := range classes {
		m[c.Code] = c
	}
	return m
}()

// Classes returns every class, in repair order.
func Classes() []Class {
	out := slices.Clone(classes)
	slices.SortStableFunc(out, func(a, b Class) int { return a.order - b.order })
	return out
}

// ClassOf returns the class of a code.
func ClassOf(c Code) (Class, bool) {
	cl, ok := classByCode[c]
	return cl, ok
}

// Finding is one inconsistency. The identifying fields say what it is
// about; Expected and Actual are the evidence in words; Facts are the
// evidence a repair re-verifies.
type Finding struct {
	Code     Code     `json:"code"`
	Severity Severity `json:"severity"`
	Phase    Phase    `json:"phase"`
	Space    string   `json:"space,omitempty"`
	Node     string   `json:"node,omitempty"`
	// Parent and Name name the folder entry concerned (a link), where
	// there is one.
	Parent string `json:"parent,omitempty"`
	Name   string `json:"name,omitempty"`
	Blob   string `json:"blob,omitempty"` // blob key
	Upload string `json:"upload,omitempty"`
	// Path is where users find the node ("/a/b", "(trash)/x/y",
	// "(detached)/..."), if anywhere.
	Path string `json:"path,omitempty"`
	// File is the file or directory concerned, relative to the root.
	File string `json:"file,omitempty"`
	// Bytes are the bytes of content concerned (a missing blob's size, an
	// orphan's, a drifting folder's true tree size).
	Bytes    int64  `json:"bytes,omitempty"`
	Expected string `json:"expected,omitempty"`
	Actual   string `json:"actual,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Remedy   Remedy `json:"remedy"`
	// Repairable says whether --repair acts on the finding (after
	// re-verifying it).
	Repairable bool   `json:"repairable"`
	Facts      *Facts `json:"facts,omitempty"`
}

// Facts are the evidence of a finding in machine form.
type Facts struct {
	Type    string `json:"type,omitempty"` // file or folder
	Linked  bool   `json:"linked,omitempty"`
	InTrash bool   `json:"in_trash,omitempty"`
	// Content: the node has something to lose (a blob, children).
	Content bool `json:"content,omitempty"`
	// From is the entry that links to the node, when it has to move.
	From *Link `json:"from,omitempty"`
	// Keep is the link a duplicate-link repair keeps.
	Keep *Link `json:"keep,omitempty"`
	// Size is the record's size; BlobSize the listed size of its blob.
	Size     int64  `json:"size,omitempty"`
	BlobSize int64  `json:"blob_size,omitempty"`
	BlobID   string `json:"blob_id,omitempty"`
	// Stored and Computed tree values (tree findings).
	Stored   int64 `json:"stored,omitempty"`
	Computed int64 `json:"computed,omitempty"`
	Depth    int   `json:"depth,omitempty"`
	// Ctime of the record (ns) when it was read.
	Ctime int64 `json:"ctime,omitempty"`
	// Meta is a blob's user metadata (its back-pointers).
	Meta map[string]string `json:"meta,omitempty"`
	// Nodes are all nodes that reference a shared blob.
	Nodes []string `json:"nodes,omitempty"`
}

// Link names a folder entry.
type Link struct {
	Parent string `json:"parent"`
	Name   string `json:"name"`
}

// String is the finding on one line, for people.
func (f *Finding) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-7s %s", f.Severity, f.Code)
	where := f.Path
	if where == "" {
		where = f.File
	}
	if where == "" {
		where = f.Blob
	}
	if where != "" {
		fmt.Fprintf(&b, " %s", where)
	}
	if f.Space != "" {
		fmt.Fprintf(&b, " [space %s]", short(f.Space))
	}
	if f.Detail != "" {
		fmt.Fprintf(&b, ": %s", f.Detail)
	}
	if f.Expected != "" || f.Actual != "" {
		fmt.Fprintf(&b, " (expected %s, found %s)", orNone(f.Expected), orNone(f.Actual))
	}
	if f.Repairable {
		fmt.Fprintf(&b, " -> %s", f.Remedy)
	} else {
		b.WriteString(" -> no automatic repair")
	}
	return b.String()
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

// newFinding fills in what the class of code says.
func newFinding(code Code, remedy Remedy) *Finding {
	cl, ok := classByCode[code]
	if !ok {
		panic("check: unknown code " + string(code))
	}
	return &Finding{Code: code, Severity: cl.Severity, Phase: cl.Phase, Remedy: remedy, Repairable: remedy != RemedyNone}
}
