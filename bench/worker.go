package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path"
	"sync"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/s3dfs/s3dfs/blobstore"
	"github.com/s3dfs/s3dfs/blobstore/posix"
	"github.com/s3dfs/s3dfs/blobstore/s3"
	"github.com/s3dfs/s3dfs/cache"
	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/lookup"
	"github.com/s3dfs/s3dfs/metadata"
)

// worker is the state of a worker process: one backend's store, the driver
// over it, and what it has built so far.
type worker struct {
	spec  OpenSpec
	cfg   Config
	be    Backend
	store StoreSpec // as currently open
	meta  metadata.Backend
	fs    *decomposedfs.FS
	blobs blobstore.Store
	s3    blobstore.Store // kept across reopens: it has no state worth dropping
	log   *slog.Logger

	spaces map[string]string // space name -> id

	mu      sync.Mutex        // guards folders
	folders map[string]string // space id + path -> folder id

	dsIDs    []string // ids of the dataset's nodes, by index
	fixtures bool
	burst    int    // files in the burst folder
	content  []byte // uploads slice their bodies from it
}

// parallelism bounds the unmeasured work a worker does at once.
const parallelism = 8

func (w *worker) open(ctx context.Context, spec OpenSpec) error {
	be, ok := lookupBackend(spec.Backend)
	if !ok {
		return unknownBackend(spec.Backend)
	}
	w.spec, w.cfg, w.be = spec, spec.Config, be
	w.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	w.spaces = map[string]string{}
	w.folders = map[string]string{}
	rng := rand.New(rand.NewPCG(uint64(w.cfg.Seed), 0x5eed))
	w.content = make([]byte, 80<<10)
	for i := range w.content {
		w.content[i] = byte(rng.Uint32())
	}
	if spec.Blobs == "s3" {
		o := s3.DefaultOptions()
		o.Endpoint, o.AccessKey, o.SecretKey, o.UseTLS = spec.S3.Endpoint, spec.S3.AccessKey, spec.S3.SecretKey, spec.S3.UseTLS
		if spec.S3.Region != "" {
			o.Region = spec.S3.Region
		}
		o.Bucket, o.CreateBucket = spec.Bucket, true
		st, err := s3.New(ctx, o)
		if err != nil {
			return err
		}
		w.s3 = st
	}
	st := spec.Store
	st.Durability, st.CacheMode = NoSync, cache.Strict
	return w.reopen(ctx, st)
}

// reopen closes the backend and the driver and opens them again as st
// says: with empty caches, whatever else changes.
func (w *worker) reopen(ctx context.Context, st StoreSpec) error {
	w.closeStore()
	meta, err := w.be.Open(ctx, st)
	if err != nil {
		return fmt.Errorf("open %s: %w", w.be.Name, err)
	}
	blobs := w.s3
	if blobs == nil {
		o := posix.DefaultOptions()
		o.Fsync = st.Durability == Fsync
		if blobs, err = posix.New(w.spec.BlobDir, o); err != nil {
			meta.Close()
			return err
		}
	}
	fo := decomposedfs.DefaultOptions()
	fo.Logger = w.log
	fo.Lookup = lookup.Options{CacheBytes: st.CacheBytes / 4, Mode: st.CacheMode, MaxStale: st.MaxStale}
	fs, err := decomposedfs.New(meta, blobs, fo)
	if err != nil {
		meta.Close()
		return err
	}
	// A first round trip, so that a cold measurement does not time the
	// connection set-up of a database.
	if c, ok := meta.(metadata.Checker); ok {
		if err := c.Check(ctx); err != nil {
			fs.Close()
			meta.Close()
			return err
		}
	}
	w.meta, w.fs, w.blobs, w.store = meta, fs, blobs, st
	return nil
}

// ensureState reopens the store if the case needs another durability or
// cache mode than the store has. Reads run at any durability.
func (w *worker) ensureState(ctx context.Context, c *Case) error {
	st := w.store
	if c.Durability != "" {
		st.Durability = c.Durability
	}
	mode, err := cache.ParseMode(c.Mode)
	if err != nil {
		return err
	}
	st.CacheMode = mode
	if st == w.store {
		return nil
	}
	return w.reopen(ctx, st)
}

func (w *worker) closeStore() {
	if w.fs != nil {
		w.fs.Close()
		w.fs = nil
	}
	if w.meta != nil {
		if err := w.meta.Close(); err != nil {
			w.log.Warn("close backend", "err", err)
		}
		w.meta = nil
	}
}

func (w *worker) close() error {
	w.closeStore()
	return nil
}

// user gives a request the run's user, as a gateway would.
func (w *worker) user(ctx context.Context) context.Context {
	if w.cfg.User == "" {
		return ctx
	}
	return decomposedfs.WithUser(ctx, w.cfg.User)
}

// space returns the id of a space of the run, creating it on first use.
// Ids are fixed by the name, the same in every backend.
func (w *worker) space(ctx context.Context, name string) (string, error) {
	if id, ok := w.spaces[name]; ok {
		return id, nil
	}
	id := decomposedfs.NamedSpaceID("s3dfs-bench/" + name)
	if _, err := w.fs.EnsureSpace(w.user(ctx), decomposedfs.SpaceSpec{ID: id, Name: name, Owner: w.cfg.User}); err != nil {
		return "", fmt.Errorf("space %s: %w", name, err)
	}
	w.spaces[name] = id
	w.mu.Lock()
	w.folders[id+"/"] = id
	w.mu.Unlock()
	return id, nil
}

// folderID returns the id of a folder the worker created (or, failing
// that, resolves it).
func (w *worker) folderID(ctx context.Context, sid, path string) (string, error) {
	w.mu.Lock()
	id, ok := w.folders[sid+path]
	w.mu.Unlock()
	if ok {
		return id, nil
	}
	ri, err := w.fs.GetMD(w.user(ctx), decomposedfs.Reference{SpaceID: sid, Path: path})
	if err != nil {
		return "", err
	}
	w.mu.Lock()
	w.folders[sid+path] = ri.ID
	w.mu.Unlock()
	return ri.ID, nil
}

// build lays nodes down through the backend directly (not measured; the
// same records and links decomposedfs would write, without content). Each
// group is created in order (parents before children), groups in
// parallel; then each folder's files' sizes are propagated once. It
// returns the ids, shaped like groups.
func (w *worker) build(ctx context.Context, sid string, groups [][]dsNode) ([][]string, error) {
	ids := make([][]string, len(groups))
	var mu sync.Mutex
	sums := map[string]int64{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelism)
	for gi, group := range groups {
		ids[gi] = make([]string, len(group))
		g.Go(func() error {
			local := map[string]int64{}
			for i, n := range group {
				pid, err := w.folderID(gctx, sid, n.Parent)
				if err != nil {
					return fmt.Errorf("parent of %s: %w", n.Path, err)
				}
				id, err := w.createNode(gctx, sid, pid, n)
				if err != nil {
					return err
				}
				ids[gi][i] = id
				if n.Dir {
					w.mu.Lock()
					w.folders[sid+n.Path] = id
					w.mu.Unlock()
				} else if n.Size > 0 {
					local[pid] += n.Size
				}
			}
			mu.Lock()
			for k, v := range local {
				sums[k] += v
			}
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(parallelism)
	for folder, sum := range sums {
		g.Go(func() error { return w.meta.Propagate(gctx, sid, folder, sum) })
	}
	return ids, g.Wait()
}

func (w *worker) createNode(ctx context.Context, sid, parentID string, n dsNode) (string, error) {
	now := cache.NextTime()
	node := &metadata.Node{ID: uuid.NewString(), SpaceID: sid, ParentID: parentID, Name: n.Name, Type: metadata.TypeDir, Mtime: now, Btime: now}
	if !n.Dir {
		node.Type, node.Size, node.MimeType = metadata.TypeFile, n.Size, "text/plain"
		if n.Size > 0 {
			// A record as big as an uploaded file's: a blob id (of no
			// blob: the dataset has no content) and checksums.
			node.BlobID = uuid.NewString()
			sum := []byte(node.BlobID)
			node.Checksums = metadata.Checksums{SHA1: sum[:20], MD5: sum[:16], Adler32: sum[:4]}
		}
	}
	if err := w.meta.CreateNode(ctx, node); err != nil {
		if errors.Is(err, metadata.ErrExist) {
			// An earlier, failed attempt got this far; the run is the
			// same either way.
			ri, gerr := w.fs.GetMD(w.user(ctx), decomposedfs.Reference{SpaceID: sid, Path: n.Path})
			if gerr == nil {
				return ri.ID, nil
			}
		}
		return "", fmt.Errorf("create %s: %w", n.Path, err)
	}
	return node.ID, nil
}

// populate grows the data space to n dataset nodes (and lays down the
// fixtures the first time).
func (w *worker) populate(ctx context.Context, n int) error {
	sid, err := w.space(ctx, "data")
	if err != nil {
		return err
	}
	if !w.fixtures {
		if err := w.buildFixtures(ctx, sid); err != nil {
			return err
		}
		w.fixtures = true
	}
	from := len(w.dsIDs)
	if n <= from {
		return nil
	}
	// One group per subtree (or the part of one that is new).
	var groups [][]dsNode
	var starts []int
	for i := from; i < n; {
		end := min(n, (i/subtreeNodes+1)*subtreeNodes)
		group := make([]dsNode, 0, end-i)
		for j := i; j < end; j++ {
			group = append(group, datasetNode(w.cfg.Seed, j))
		}
		groups = append(groups, group)
		starts = append(starts, i)
		i = end
	}
	ids, err := w.build(ctx, sid, groups)
	if err != nil {
		return fmt.Errorf("populate: %w", err)
	}
	w.dsIDs = append(w.dsIDs, make([]string, n-from)...)
	for gi, gids := range ids {
		copy(w.dsIDs[starts[gi]:], gids)
	}
	return nil
}

// buildFixtures lays down the folder chains of stat-path and the folders
// that list lists.
func (w *worker) buildFixtures(ctx context.Context, sid string) error {
	depth := 1
	if len(w.cfg.Depths) > 0 {
		depth = w.cfg.Depths[len(w.cfg.Depths)-1]
	}
	var groups [][]dsNode
	for c := range w.cfg.Chains {
		var g []dsNode
		for d := 1; d <= depth; d++ {
			p := chainPath(c, d)
			parent := "/"
			if d > 1 {
				parent = chainPath(c, d-1)
			}
			g = append(g, dsNode{Path: p, Parent: parent, Name: path.Base(p), Dir: true})
		}
		groups = append(groups, g)
	}
	var folders []dsNode
	for _, size := range w.cfg.ListSizes {
		for i := range w.cfg.listFolders(size) {
			p := listFolder(size, i)
			folders = append(folders, dsNode{Path: p, Parent: "/", Name: p[1:], Dir: true})
		}
	}
	groups = append(groups, folders)
	if _, err := w.build(ctx, sid, groups); err != nil {
		return fmt.Errorf("fixtures: %w", err)
	}
	groups = nil
	for _, size := range w.cfg.ListSizes {
		for i := range w.cfg.listFolders(size) {
			groups = append(groups, filesIn(w.cfg.Seed, listFolder(size, i), 0, size, listChild)...)
		}
	}
	if _, err := w.build(ctx, sid, groups); err != nil {
		return fmt.Errorf("fixtures: %w", err)
	}
	return nil
}

// filesIn returns files [from, to) of a folder, named by name, in groups
// of at most 500 (so that a big folder fills in parallel).
func filesIn(seed int64, folder string, from, to int, name func(int) string) [][]dsNode {
	var groups [][]dsNode
	for i := from; i < to; i += 500 {
		var g []dsNode
		for j := i; j < min(to, i+500); j++ {
			g = append(g, fileNode(seed, folder, name(j)))
		}
		groups = append(groups, g)
	}
	return groups
}

// snapshot walks the scopes (all spaces if none).
func (w *worker) snapshot(ctx context.Context, scopes []Scope, full bool) (*Snapshot, error) {
	return snapshotTree(w.user(ctx), w.fs, w.spaces, scopes, full)
}
