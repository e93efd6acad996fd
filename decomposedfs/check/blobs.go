package check

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/decomposedfs/check/internal/extsort"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/metadata/mpk"
)

// The blob phase is a merge-join of two streams in key order: the blobs
// that records and uploads reference (collected during the walks into an
// external sort by (space, blob)), and the blob store's listing (in key
// order by contract, which for keys "<space>/<xx>/<blob>" is the same
// order). Neither side is held in memory. The listing runs in parallel by
// key prefix (up to ListConcurrency prefixes ahead of the merge, each
// retried from where it stopped), under a request-rate limit.

// ref is one reference to a blob.
type ref struct {
	space, blob, owner id16
	size               int64 // -1: unknown (an upload's target)
	kind               uint8
}

const (
	refNode         uint8 = iota + 1 // a live file
	refTrash                         // a file in the trash
	refLost                          // a file nothing reaches (or an unreadable record's)
	refUploadTarget                  // the blob an upload will complete into
	refUploadTail                    // a chunk an upload stored
	refRevision                      // an earlier content of a file
)

func isNodeRef(k uint8) bool { return k == refNode || k == refTrash || k == refLost }

// refersTo reports whether a record references blob bid, as content or as
// a revision.
func refersTo(n *metadata.Node, bid string) bool {
	if n.BlobID == bid {
		return true
	}
	for _, r := range n.Revisions {
		if r.BlobID == bid {
			return true
		}
	}
	return false
}

func cmpRef(a, b ref) int {
	if c := bytes.Compare(a.space[:], b.space[:]); c != 0 {
		return c
	}
	if c := bytes.Compare(a.blob[:], b.blob[:]); c != 0 {
		return c
	}
	if c := cmp.Compare(a.kind, b.kind); c != 0 {
		return c
	}
	return bytes.Compare(a.owner[:], b.owner[:])
}

var refCodec extsort.Codec[ref] = extsort.Fixed[ref]{N: 57,
	Put: func(b []byte, r ref) {
		copy(b, r.space[:])
		copy(b[16:], r.blob[:])
		copy(b[32:], r.owner[:])
		binary.BigEndian.PutUint64(b[48:], uint64(r.size))
		b[56] = r.kind
	},
	Get: func(b []byte) (r ref) {
		copy(r.space[:], b)
		copy(r.blob[:], b[16:])
		copy(r.owner[:], b[32:])
		r.size = int64(binary.BigEndian.Uint64(b[48:]))
		r.kind = b[56]
		return r
	},
	Mem: 64,
}

func (r *run) addRef(x ref) {
	if r.refs == nil {
		return
	}
	if err := r.refs.Add(x); err != nil {
		r.readError("sort", err)
	}
}

func (x ref) key() string { return blobKey(x.space.String(), x.blob.String()) }

func blobKey(sid, bid string) string { return decomposedfs.BlobKey(sid, bid) }

// parseBlobKey splits "<space>/<xx>/<blob>".
func parseBlobKey(k string) (sid, bid string, ok bool) {
	if len(k) != 36+1+2+1+36 || k[36] != '/' || k[39] != '/' || k[37:39] != k[40:42] {
		return "", "", false
	}
	sid, bid = k[:36], k[40:]
	if metadata.ValidateID(sid) != nil || metadata.ValidateID(bid) != nil {
		return "", "", false
	}
	return sid, bid, true
}

func hexPair(k string) bool {
	return len(k) >= 2 && strings.IndexByte(hexDigits, k[0]) >= 0 && strings.IndexByte(hexDigits, k[1]) >= 0
}

// checkBlobs runs the merge.
func (r *run) checkBlobs() error {
	it, err := r.refs.Sorted()
	if err != nil {
		return err
	}
	defer it.Close()
	m := &blobMerge{r: r, it: it}
	m.advance()
	defer m.flushSpace()
	if r.opts.Path != "" {
		return m.statAll()
	}
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	prefixes := r.listPrefixes(r.refs.Len())
	l := r.startListing(ctx, prefixes)
	for i, p := range prefixes {
		for info := range l.chans[i] {
			if err := m.listed(info); err != nil {
				return err
			}
		}
		<-l.sem
		if err := l.errs[i]; err != nil {
			if r.ctx.Err() != nil {
				return r.ctx.Err()
			}
			r.readError("list "+p+"*", err)
			m.skipPrefix(p)
			continue
		}
		if err := m.endPrefix(p); err != nil {
			return err
		}
	}
	for m.ok {
		if err := m.missing(m.group()); err != nil {
			return err
		}
	}
	return it.Err()
}

// listPrefixes splits the listing: one prefix for a small store, 256 for a
// large one (by the first two hex digits of the key, or of the blob id
// within one space).
func (r *run) listPrefixes(refs int64) []string {
	base := ""
	if r.opts.Space != "" {
		base = r.opts.Space + "/"
	}
	if refs <= r.opts.ListSplit {
		return []string{base}
	}
	out := make([]string, 0, 256)
	for i := range 256 {
		p := base + string(hexDigits[i>>4]) + string(hexDigits[i&15])
		if base != "" {
			p += "/"
		}
		out = append(out, p)
	}
	return out
}

// listing is the listings of the prefixes, each into its channel, at most
// ListConcurrency ahead of the consumer (which releases sem per prefix).
type listing struct {
	chans []chan blobstore.Info
	errs  []error // errs[i] is set before chans[i] is closed
	sem   chan struct{}
}

func (r *run) startListing(ctx context.Context, prefixes []string) *listing {
	l := &listing{chans: make([]chan blobstore.Info, len(prefixes)), errs: make([]error, len(prefixes)),
		sem: make(chan struct{}, r.opts.ListConcurrency)}
	for i := range l.chans {
		l.chans[i] = make(chan blobstore.Info, 1024)
	}
	go func() {
		for i, p := range prefixes {
			select {
			case l.sem <- struct{}{}:
			case <-ctx.Done():
				for j := i; j < len(prefixes); j++ {
					l.errs[j] = ctx.Err()
					close(l.chans[j])
				}
				return
			}
			go func() {
				l.errs[i] = r.listOne(ctx, p, l.chans[i])
				close(l.chans[i])
			}()
		}
	}()
	return l
}

// listOne lists one prefix into out, retrying from the last key delivered.
func (r *run) listOne(ctx context.Context, prefix string, out chan<- blobstore.Info) error {
	last := ""
	var err error
	for attempt := 0; ; attempt++ {
		if err := r.lim.wait(ctx); err != nil {
			return err
		}
		n := 0
		err = r.blobs.List(ctx, prefix, func(bi blobstore.Info) error {
			if last != "" && bi.Key <= last {
				return nil // delivered by an earlier attempt
			}
			if n++; n%1000 == 0 { // about a page
				if err := r.lim.wait(ctx); err != nil {
					return err
				}
			}
			select {
			case out <- bi:
				last = bi.Key
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if err == nil || ctx.Err() != nil || attempt >= r.opts.ListRetries {
			return err
		}
		backoff := time.Duration(100<<min(attempt, 6)) * time.Millisecond
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// blobMerge walks the sorted references alongside the listing.
type blobMerge struct {
	r       *run
	it      *extsort.Iterator[ref]
	head    ref
	headKey string
	ok      bool

	curSpace          string // per-space counts, flushed when the space changes
	count, bytesTotal int64

	uploadsDone map[string]bool // uploads already reported
}

// hold passes a finding of the blob phase through the holder, so that it
// is reported only if its subjects (the records it was concluded from)
// stay unchanged for the settle time: an overwrite commits its blob right
// after storing it, and a listing may fall in between.
func (m *blobMerge) hold(f *Finding, subj ...subject) error {
	m.r.blobHold.add(f, subj...)
	return nil
}

// nodeSubject is the record of node id of space sid, as it is now.
func (r *run) nodeSubject(sid, id string) subject {
	p := r.meta.RecordPath(sid, id)
	return recordSubject(p, r.meta.ReadRaw(sid, id))
}

func (m *blobMerge) advance() {
	m.head, m.ok = m.it.Next()
	if m.ok {
		m.headKey = m.head.key()
	}
}

// group takes all references to the head's key.
func (m *blobMerge) group() []ref {
	g := []ref{m.head}
	key := m.headKey
	for m.advance(); m.ok && m.headKey == key; m.advance() {
		g = append(g, m.head)
	}
	return g
}

func (m *blobMerge) account(sid string, size int64) {
	if sid != m.curSpace {
		m.flushSpace()
		m.curSpace = sid
	}
	m.count++
	m.bytesTotal += size
}

func (m *blobMerge) flushSpace() {
	if m.curSpace != "" && (m.count > 0 || m.bytesTotal > 0) {
		c, b := m.count, m.bytesTotal
		m.r.sum.update(m.curSpace, func(ss *SpaceSummary) { ss.Blobs += c; ss.BlobBytes += b })
	}
	m.count, m.bytesTotal = 0, 0
}

func (m *blobMerge) listed(info blobstore.Info) error {
	r := m.r
	r.listed.Add(1)
	sid, bid, ok := parseBlobKey(info.Key)
	if !ok {
		if hexPair(info.Key) {
			f := newFinding(BlobForeign, RemedyNone)
			f.Blob, f.Bytes = info.Key, info.Size
			f.Detail = "not a key of the form <space id>/<blob id[0:2]>/<blob id>"
			return m.hold(f)
		}
		return nil // not below a space id at all (the quarantine, say)
	}
	m.account(sid, info.Size)
	for m.ok && m.headKey < info.Key {
		if err := m.missing(m.group()); err != nil {
			return err
		}
	}
	if m.ok && m.headKey == info.Key {
		return m.matched(m.group(), info)
	}
	return m.unreferenced(info, sid, bid)
}

// endPrefix: references below a prefix that the listing did not show are
// missing.
func (m *blobMerge) endPrefix(p string) error {
	for m.ok && strings.HasPrefix(m.headKey, p) {
		if err := m.missing(m.group()); err != nil {
			return err
		}
	}
	return nil
}

// skipPrefix drops the references below a prefix whose listing failed:
// nothing can be said about them.
func (m *blobMerge) skipPrefix(p string) {
	for m.ok && (strings.HasPrefix(m.headKey, p) || m.headKey < p) {
		m.group()
	}
}

// statAll checks each referenced blob with a HEAD request (a path-scoped
// check, whose references are few and scattered over the keys).
func (m *blobMerge) statAll() error {
	for m.ok {
		g := m.group()
		if err := m.r.lim.wait(m.r.ctx); err != nil {
			return err
		}
		info, err := m.r.blobs.Stat(m.r.ctx, g[0].key())
		switch {
		case errors.Is(err, blobstore.ErrNotFound):
			if err := m.missing(g); err != nil {
				return err
			}
		case err != nil:
			m.r.readError("stat "+g[0].key(), err)
		default:
			m.r.listed.Add(1)
			m.account(g[0].space.String(), info.Size)
			if err := m.matched(g, info); err != nil {
				return err
			}
		}
	}
	return nil
}

// missing handles references to a blob the store does not have.
func (m *blobMerge) missing(g []ref) error {
	r := m.r
	seen := map[id16]bool{}
	for _, x := range g {
		if seen[x.owner] {
			continue
		}
		seen[x.owner] = true
		sid, bid, owner := x.space.String(), x.blob.String(), x.owner.String()
		switch {
		case isNodeRef(x.kind):
			rec := r.meta.ReadRaw(sid, owner)
			if rec.State != mpk.RecordOK || rec.Node.BlobID != bid || rec.Stamp.Ctime > r.cutoff {
				r.sum.skipped(1)
				continue // changed since the walk read it
			}
			if exists, err := r.blobExists(x.key()); err != nil || exists {
				continue
			}
			f := newFinding(BlobMissing, RemedyLostAndFound)
			f.Space, f.Node, f.Blob, f.Bytes = sid, owner, x.key(), x.size
			f.Path = r.pathOf(sid, owner)
			f.File = r.rel(r.meta.RecordPath(sid, owner))
			f.Expected, f.Actual = fmt.Sprintf("blob of %d bytes", x.size), "no blob"
			f.Detail = "the file's content is not in the blob store; the node moves to lost+found without it"
			f.Facts = &Facts{Type: "file", Size: x.size, BlobID: bid, InTrash: x.kind == refTrash, Ctime: rec.Stamp.Ctime}
			m.hold(f, recordSubject(r.meta.RecordPath(sid, owner), rec))
		case x.kind == refUploadTail:
			if err := m.tailProblem(x, "no blob"); err != nil {
				return err
			}
		case x.kind == refRevision:
			if err := m.revisionProblem(x, -1); err != nil {
				return err
			}
		}
	}
	return nil
}

// revisionProblem reports a revision whose blob is missing (size -1) or
// has another size than the revision says, if the record still says so.
func (m *blobMerge) revisionProblem(x ref, size int64) error {
	r := m.r
	sid, bid, owner := x.space.String(), x.blob.String(), x.owner.String()
	rec := r.meta.ReadRaw(sid, owner)
	if rec.State != mpk.RecordOK || rec.Stamp.Ctime > r.cutoff {
		return nil
	}
	var rev *metadata.Revision
	for i := range rec.Node.Revisions {
		if rv := &rec.Node.Revisions[i]; rv.BlobID == bid && rv.Size == x.size {
			rev = rv
		}
	}
	if rev == nil {
		return nil
	}
	if size < 0 {
		if exists, err := r.blobExists(x.key()); err != nil || exists {
			return nil
		}
	}
	remedy, actual := RemedyDropRevision, "no blob"
	if size >= 0 {
		remedy, actual = RemedyFixSize, fmt.Sprintf("%d bytes (blob)", size)
	}
	f := newFinding(RevisionDangling, remedy)
	f.Space, f.Node, f.Blob, f.Bytes = sid, owner, x.key(), x.size
	f.Name = rev.ID
	f.Path = r.pathOf(sid, owner)
	f.File = r.rel(r.meta.RecordPath(sid, owner))
	f.Expected, f.Actual = fmt.Sprintf("%d bytes (revision %s)", x.size, rev.ID), actual
	f.Detail = "a revision of the file whose content is not there as recorded"
	f.Facts = &Facts{Type: "file", Size: x.size, BlobID: bid, BlobSize: size}
	return m.hold(f, recordSubject(r.meta.RecordPath(sid, owner), rec))
}

func (r *run) blobExists(key string) (bool, error) {
	if err := r.lim.wait(r.ctx); err != nil {
		return false, err
	}
	_, err := r.blobs.Stat(r.ctx, key)
	if errors.Is(err, blobstore.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		r.readError("stat "+key, err)
		return false, err
	}
	return true, nil
}

// tailProblem reports an upload chunk that is missing or of the wrong size,
// if the upload still records it.
func (m *blobMerge) tailProblem(x ref, actual string) error {
	r := m.r
	uid, bid := x.owner.String(), x.blob.String()
	if m.uploadsDone[uid] {
		return nil // one finding per upload
	}
	u, err := r.meta.ReadUpload(r.ctx, uid)
	if err != nil {
		return nil // ended meanwhile
	}
	found := false
	for _, t := range u.Tails {
		if t.BlobID == bid && t.Size == x.size {
			found = true
		}
	}
	if !found {
		return nil
	}
	if m.uploadsDone == nil {
		m.uploadsDone = map[string]bool{}
	}
	m.uploadsDone[uid] = true
	if n := r.meta.ReadRaw(u.SpaceID, u.NodeID); n.State == mpk.RecordOK && refersTo(n.Node, u.BlobID) {
		// Its file was committed, its chunks deleted, and the finish died
		// before it closed the record: nothing is missing but the close.
		f := newFinding(UploadStale, RemedyAbortUpload)
		f.Space, f.Upload, f.File = u.SpaceID, uid, r.rel(r.meta.UploadPath(uid))
		f.Detail = fmt.Sprintf("upload %s of %q finished (its file %s exists) but its record was never closed", uid, u.Name, u.NodeID)
		return m.hold(f, statSubject(r.meta.UploadPath(uid)))
	}
	f := newFinding(UploadTailMissing, RemedyAbortUpload)
	f.Space, f.Upload, f.Blob, f.Bytes = u.SpaceID, uid, x.key(), x.size
	f.File = r.rel(r.meta.UploadPath(uid))
	f.Expected, f.Actual = fmt.Sprintf("chunk of %d bytes", x.size), actual
	f.Detail = fmt.Sprintf("upload %s of %q cannot complete", uid, u.Name)
	return m.hold(f, statSubject(r.meta.UploadPath(uid)))
}

// matched checks the references to a blob that exists.
func (m *blobMerge) matched(g []ref, info blobstore.Info) error {
	r := m.r
	var owners []string
	seen := map[id16]bool{}
	type use struct {
		owner id16
		kind  uint8
	}
	done := map[use]bool{}
	for _, x := range g {
		k := x.kind
		if isNodeRef(k) {
			k = refNode // a node reached by two walks is one reference
		}
		if done[use{x.owner, k}] {
			continue
		}
		done[use{x.owner, k}] = true
		if (isNodeRef(x.kind) || x.kind == refRevision) && !seen[x.owner] {
			seen[x.owner] = true
			owners = append(owners, x.owner.String())
		}
		var err error
		switch {
		case isNodeRef(x.kind) && x.size != info.Size:
			err = m.sizeMismatch(x, info)
		case x.kind == refUploadTail && x.size != info.Size:
			err = m.tailProblem(x, fmt.Sprintf("%d bytes", info.Size))
		case x.kind == refRevision && x.size != info.Size:
			err = m.revisionProblem(x, info.Size)
		}
		if err != nil {
			return err
		}
	}
	if len(owners) < 2 {
		return nil
	}
	sid, bid := g[0].space.String(), g[0].blob.String()
	var still []string
	for _, o := range owners {
		if rec := r.meta.ReadRaw(sid, o); rec.State == mpk.RecordOK && refersTo(rec.Node, bid) {
			still = append(still, o)
		}
	}
	if len(still) < 2 {
		return nil
	}
	f := newFinding(BlobShared, RemedyCopyBlob)
	f.Space, f.Blob, f.Bytes = sid, info.Key, info.Size
	f.Node = still[0]
	f.Detail = fmt.Sprintf("%d nodes reference the blob; deleting one would break the others", len(still))
	f.Facts = &Facts{Nodes: still, BlobID: bid, BlobSize: info.Size}
	subj := make([]subject, 0, len(still))
	for _, o := range still {
		subj = append(subj, r.nodeSubject(sid, o))
	}
	return m.hold(f, subj...)
}

func (m *blobMerge) sizeMismatch(x ref, info blobstore.Info) error {
	r := m.r
	sid, bid, owner := x.space.String(), x.blob.String(), x.owner.String()
	rec := r.meta.ReadRaw(sid, owner)
	if rec.State != mpk.RecordOK || rec.Node.BlobID != bid || rec.Node.Size == info.Size || rec.Stamp.Ctime > r.cutoff {
		return nil
	}
	f := newFinding(BlobSize, RemedyFixSize)
	f.Space, f.Node, f.Blob, f.Bytes = sid, owner, info.Key, info.Size
	f.Path = r.pathOf(sid, owner)
	f.File = r.rel(r.meta.RecordPath(sid, owner))
	f.Expected, f.Actual = fmt.Sprintf("%d bytes (record)", rec.Node.Size), fmt.Sprintf("%d bytes (blob)", info.Size)
	f.Detail = "the blob is the content: the record takes its size and drops checksums it can no longer vouch for"
	f.Facts = &Facts{Type: "file", Size: rec.Node.Size, BlobSize: info.Size, BlobID: bid, InTrash: x.kind == refTrash}
	return m.hold(f, recordSubject(r.meta.RecordPath(sid, owner), rec))
}

// unreferenced decides about a blob nothing referenced during the walks.
func (m *blobMerge) unreferenced(info blobstore.Info, sid, bid string) error {
	r := m.r
	if info.ModTime.UnixNano() > r.cutoff-int64(r.opts.Grace) {
		return nil // may belong to an upload in flight
	}
	if err := r.lim.wait(r.ctx); err != nil {
		return err
	}
	st, err := r.blobs.Stat(r.ctx, info.Key)
	if errors.Is(err, blobstore.ErrNotFound) {
		return nil // deleted meanwhile
	}
	if err != nil {
		r.readError("stat "+info.Key, err)
		return nil
	}
	md := st.Metadata
	why := "its space does not exist"
	if r.known[sid] {
		why = "nothing references it and it carries no back-pointer"
	}
	if u := md[decomposedfs.MetaUpload]; u != "" {
		if r.uploads[u].live {
			return nil // a chunk of a live upload
		}
		why = fmt.Sprintf("a chunk of upload %s, which has ended", u)
	} else if nid := md[decomposedfs.MetaNode]; metadata.ValidateID(nid) == nil && r.known[sid] {
		if f := r.wanted[nid]; f != nil && f.Space == sid {
			// The content of a linked node whose record is unreadable:
			// the repair rebuilds the record around it.
			f.Facts.BlobID, f.Facts.BlobSize = bid, info.Size
			f.Bytes = info.Size
			f.Blob = info.Key
			f.Detail += fmt.Sprintf("; its blob %s (%d bytes) was found by its back-pointer", info.Key, info.Size)
			return nil
		}
		rec := r.meta.ReadRaw(sid, nid)
		switch {
		case rec.State == mpk.RecordOK && r.pendingYoung(sid, nid):
			return nil // prepared; its upload may be committing
		case rec.State == mpk.RecordOK && exists(r.meta.PendingPath(sid, nid)):
			// Still prepared, and too old to be in flight: the record may
			// name the blob already, but only a commit would make it
			// content (the node is reported as node.pending).
			why = fmt.Sprintf("its node %s was prepared for an upload that never committed", nid)
		case rec.State == mpk.RecordOK && refersTo(rec.Node, bid):
			return nil // committed after the walk passed
		case rec.State == mpk.RecordMissing:
			why = fmt.Sprintf("its node %s does not exist (an upload that never committed, or a purged node)", nid)
		case rec.State == mpk.RecordOK:
			why = fmt.Sprintf("its node %s references blob %q now (an overwrite that did not delete it)", nid, rec.Node.BlobID)
		default:
			why = fmt.Sprintf("its node %s has an unusable record (%s)", nid, rec.State)
		}
	}
	f := newFinding(BlobOrphan, RemedyQuarantineBlob)
	f.Space, f.Blob, f.Bytes = sid, info.Key, info.Size
	f.Detail = why
	f.Facts = &Facts{Meta: md, BlobID: bid, BlobSize: info.Size}
	var subj []subject
	if nid := md[decomposedfs.MetaNode]; metadata.ValidateID(nid) == nil && r.known[sid] {
		subj = append(subj, r.nodeSubject(sid, nid), statSubject(r.meta.PendingPath(sid, nid)))
	}
	return m.hold(f, subj...)
}

func (r *run) pendingYoung(sid, id string) bool {
	st, ok, err := lstatStamp(r.meta.PendingPath(sid, id))
	return err == nil && ok && st.Ctime > r.cutoff-int64(r.opts.PendingGrace)
}

// pathOf is a node's path for people: up the parents to the root, or to the
// trash, as far as the links agree.
func (r *run) pathOf(sid, id string) string {
	var segs []string
	cur := id
	for range maxDepth {
		if cur == sid {
			return "/" + strings.Join(reverse(segs), "/")
		}
		rec := r.meta.ReadRaw(sid, cur)
		if rec.State != mpk.RecordOK {
			return ""
		}
		n := rec.Node
		segs = append(segs, n.Name)
		if n.Trashed != 0 {
			return "(trash)/" + strings.Join(reverse(segs), "/")
		}
		cur = n.ParentID
	}
	return ""
}

func reverse(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

// limiter spaces requests evenly at a rate per second (no bursts).
type limiter struct {
	mu   sync.Mutex // guards next
	step time.Duration
	next time.Time
}

func newLimiter(rate float64) *limiter {
	if rate <= 0 {
		return nil
	}
	return &limiter{step: time.Duration(float64(time.Second) / rate)}
}

func (l *limiter) wait(ctx context.Context) error {
	if l == nil {
		return ctx.Err()
	}
	l.mu.Lock()
	now := time.Now()
	if l.next.Before(now) {
		l.next = now
	}
	at := l.next
	l.next = l.next.Add(l.step)
	l.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
