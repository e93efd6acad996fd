package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"path"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// Where the write workloads write. Each repetition of a case gets folders
// of its own, so that every repetition does the same work and the trees
// stay comparable.

func (c *Case) base(rep int) string { return fmt.Sprintf("/%s-r%d", c.Slug(), rep) }

// target is the space and folder worker wk of repetition rep writes in.
func (c *Case) target(rep, wk int) (space, folder string) {
	b := c.base(rep)
	switch c.Placement {
	case "space":
		return "work", fmt.Sprintf("%s/w%02d", b, wk)
	case "spaces":
		return fmt.Sprintf("work-w%02d", wk), b
	}
	return "work", b
}

const burstFolder = "/burst"

// scopes are the subtrees a case writes, for the cross-check.
func (c *Case) scopes(reps int) []Scope {
	if !c.writes() {
		return nil
	}
	if c.Workload == "upload-burst" {
		return []Scope{{Space: "burst", Path: burstFolder}}
	}
	var out []Scope
	for rep := range reps {
		if c.Placement == "spaces" {
			for wk := range c.Workers {
				sp, f := c.target(rep, wk)
				out = append(out, Scope{Space: sp, Path: f})
			}
			continue
		}
		out = append(out, Scope{Space: "work", Path: c.base(rep)})
	}
	return out
}

// burstPerRep is how many uploads one repetition of the burst measures.
func (c *Case) burstPerRep(reps int) int { return c.Ops / reps }

func (w *worker) prepare(ctx context.Context, c *Case) error {
	if c == nil {
		return errors.New("prepare without a case")
	}
	if err := w.ensureState(ctx, c); err != nil {
		return err
	}
	if c.Cache == "hot" {
		return w.warm(ctx, c)
	}
	reps := w.cfg.Reps
	switch c.Workload {
	case "create-files", "create-folders", "upload-small", "mixed":
		for rep := range reps {
			for wk := range c.Workers {
				sp, f := c.target(rep, wk)
				if err := w.mkdirAll(ctx, sp, f); err != nil {
					return err
				}
			}
		}
		if c.Workload == "mixed" {
			return w.warm(ctx, c)
		}
	case "rename", "delete", "move":
		for rep := range reps {
			sid, err := w.space(ctx, "work")
			if err != nil {
				return err
			}
			b := c.base(rep)
			if err := w.mkdirAll(ctx, "work", b); err != nil {
				return err
			}
			switch {
			case c.Workload == "rename" || c.Variant == "files":
				_, err = w.build(ctx, sid, filesIn(w.cfg.Seed, b, 0, c.Ops, fileName))
			case c.Workload == "move":
				if err = w.mkdirAll(ctx, "work", b+"/dst"); err == nil {
					err = w.foldersWithFiles(ctx, sid, b+"/src", c.Ops)
				}
			default:
				err = w.foldersWithFiles(ctx, sid, b, c.Ops)
			}
			if err != nil {
				return err
			}
		}
	case "upload-burst":
		sid, err := w.space(ctx, "burst")
		if err != nil {
			return err
		}
		if err := w.mkdirAll(ctx, "burst", burstFolder); err != nil {
			return err
		}
		fill := c.Children - c.burstPerRep(reps)*reps
		if fill > w.burst {
			if _, err := w.build(ctx, sid, filesIn(w.cfg.Seed, burstFolder, w.burst, fill, burstName)); err != nil {
				return fmt.Errorf("fill the burst folder: %w", err)
			}
			w.burst = fill
		}
	}
	return nil
}

func fileName(i int) string  { return fmt.Sprintf("f%05d", i) }
func burstName(i int) string { return fmt.Sprintf("b%06d.bin", i) }

// foldersWithFiles makes n folders d00000.. below parent with two files
// each.
func (w *worker) foldersWithFiles(ctx context.Context, sid, parent string, n int) error {
	if err := w.mkdirAllID(ctx, sid, parent); err != nil {
		return err
	}
	var groups [][]dsNode
	for i := 0; i < n; i += 50 {
		var g []dsNode
		for j := i; j < min(n, i+50); j++ {
			d := fmt.Sprintf("%s/d%05d", parent, j)
			g = append(g, dsNode{Path: d, Parent: parent, Name: path.Base(d), Dir: true},
				fileNode(w.cfg.Seed, d, "x0"), fileNode(w.cfg.Seed, d, "x1"))
		}
		groups = append(groups, g)
	}
	_, err := w.build(ctx, sid, groups)
	return err
}

// mkdirAll makes a folder and its parents in a space of the run.
func (w *worker) mkdirAll(ctx context.Context, space, p string) error {
	sid, err := w.space(ctx, space)
	if err != nil {
		return err
	}
	return w.mkdirAllID(ctx, sid, p)
}

func (w *worker) mkdirAllID(ctx context.Context, sid, p string) error {
	var chain []dsNode
	for q := p; q != "/"; q = path.Dir(q) {
		w.mu.Lock()
		_, ok := w.folders[sid+q]
		w.mu.Unlock()
		if ok {
			break
		}
		chain = append([]dsNode{{Path: q, Parent: path.Dir(q), Name: path.Base(q), Dir: true}}, chain...)
	}
	if len(chain) == 0 {
		return nil
	}
	_, err := w.build(ctx, sid, [][]dsNode{chain})
	return err
}

// hotSet is the working set of hot reads and of the mixed workload: up to
// HotSet nodes of the dataset, fixed by the case's seed.
func (w *worker) hotSet(c *Case) []int {
	n := min(c.Dataset, len(w.dsIDs))
	rng := rand.New(rand.NewPCG(uint64(c.seed(w.cfg.Seed)), 1))
	return rng.Perm(n)[:min(w.cfg.HotSet, n)]
}

// warm reads what a hot case will read, three times, and waits for the
// caches to take it in.
func (w *worker) warm(ctx context.Context, c *Case) error {
	var ops []op
	switch c.Workload {
	case "mixed":
		data := w.spaces["data"]
		seen := map[string]bool{}
		for _, i := range w.hotSet(c) {
			n := datasetNode(w.cfg.Seed, i)
			ref := decomposedfs.Reference{SpaceID: data, Path: n.Path}
			idRef := decomposedfs.Reference{SpaceID: data, NodeID: w.dsIDs[i]}
			ops = append(ops, w.statOp(ref), w.statOp(idRef))
			folder := n.Path
			if !n.Dir {
				folder = n.Parent
			}
			if !seen[folder] {
				seen[folder] = true
				ops = append(ops, w.listOp(decomposedfs.Reference{SpaceID: data, Path: folder}, -1))
			}
		}
	case "stat-id":
		for _, i := range w.hotSet(c) {
			ops = append(ops, w.statOp(decomposedfs.Reference{SpaceID: w.spaces["data"], NodeID: w.dsIDs[i]}))
		}
	default:
		// Every target of the case's first repetition.
		l, err := w.load(ctx, c, 0)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, wops := range l.ops {
			for _, o := range wops {
				if !seen[o.what] {
					seen[o.what] = true
					ops = append(ops, o)
				}
			}
		}
	}
	uctx := w.user(ctx)
	for range 3 {
		g, gctx := errgroup.WithContext(uctx)
		g.SetLimit(parallelism)
		for _, o := range ops {
			g.Go(func() error { return o.run(gctx) })
		}
		if err := g.Wait(); err != nil {
			return fmt.Errorf("warm up: %w", err)
		}
		if m, ok := w.meta.(interface{ WaitCache() }); ok {
			m.WaitCache()
		}
		w.fs.Resolver().Wait()
	}
	return nil
}

// measureCase runs repetition rep of a case.
func (w *worker) measureCase(ctx context.Context, c *Case, rep int) (Sample, error) {
	if c == nil {
		return Sample{}, errors.New("measure without a case")
	}
	if err := w.ensureState(ctx, c); err != nil {
		return Sample{}, err
	}
	if c.Cache == "cold" {
		if err := w.reopen(ctx, w.store); err != nil {
			return Sample{}, err
		}
	}
	l, err := w.load(ctx, c, rep)
	if err != nil {
		return Sample{}, err
	}
	s, err := measure(w.user(ctx), l)
	if err != nil {
		return Sample{}, err
	}
	if c.Workload == "upload-burst" {
		w.burst += c.burstPerRep(w.cfg.Reps)
	}
	return s, nil
}

func (w *worker) statOp(ref decomposedfs.Reference) op {
	fs := w.fs
	what := "stat " + ref.Path
	if ref.NodeID != "" {
		what = "stat id " + ref.NodeID
	}
	return op{what: what, run: func(ctx context.Context) error {
		_, err := fs.GetMD(ctx, ref)
		return err
	}}
}

// listOp lists a folder, which must have want children (-1: any number).
func (w *worker) listOp(ref decomposedfs.Reference, want int) op {
	fs := w.fs
	return op{what: "list " + ref.Path, run: func(ctx context.Context) error {
		l, err := fs.ListFolder(ctx, ref)
		if err == nil && want >= 0 && len(l.Children) != want {
			err = fmt.Errorf("%d children, want %d", len(l.Children), want)
		}
		return err
	}}
}

func (w *worker) uploadOp(sid, p string, size int64) op {
	fs := w.fs
	h := fnv.New64a()
	h.Write([]byte(p))
	off := int(h.Sum64() % uint64(len(w.content)-int(size)))
	body := w.content[off : off+int(size)]
	return op{what: "upload " + p, run: func(ctx context.Context) error {
		_, err := fs.Upload(ctx, decomposedfs.Reference{SpaceID: sid, Path: p}, bytes.NewReader(body), decomposedfs.UploadOptions{Size: size})
		return err
	}}
}

func (w *worker) moveOp(sid, from, to string) op {
	fs := w.fs
	return op{what: "move " + from, run: func(ctx context.Context) error {
		_, err := fs.Move(ctx, decomposedfs.Reference{SpaceID: sid, Path: from}, decomposedfs.Reference{SpaceID: sid, Path: to}, false)
		return err
	}}
}

// load builds the operations of repetition rep of a case.
func (w *worker) load(ctx context.Context, c *Case, rep int) (load, error) {
	ops := make([][]op, c.Workers)
	seed := uint64(c.seed(w.cfg.Seed))
	rng := rand.New(rand.NewPCG(seed, uint64(rep)))
	per := c.Ops / c.Workers
	l := load{ops: ops, budget: c.Budget, minOps: 50}
	data := w.spaces["data"]
	// each gives operation k of the repetition to worker k mod Workers.
	each := func(n int, f func(k int) op) {
		for k := range n {
			ops[k%c.Workers] = append(ops[k%c.Workers], f(k))
		}
	}
	sidOf := func(space string) (string, error) { return w.space(ctx, space) }
	switch c.Workload {
	case "stat-id":
		if c.Cache == "cold" {
			perm := rng.Perm(min(c.Dataset, len(w.dsIDs)))
			each(min(c.Ops, len(perm)), func(k int) op {
				return w.statOp(decomposedfs.Reference{SpaceID: data, NodeID: w.dsIDs[perm[k]]})
			})
			break
		}
		set := w.hotSet(c)
		if len(set) == 0 {
			return load{}, errors.New("stat-id: empty dataset")
		}
		each(c.Ops, func(int) op {
			return w.statOp(decomposedfs.Reference{SpaceID: data, NodeID: w.dsIDs[set[rng.IntN(len(set))]]})
		})
	case "stat-path":
		if c.Cache == "cold" {
			each(w.cfg.Chains, func(k int) op {
				return w.statOp(decomposedfs.Reference{SpaceID: data, Path: chainPath(k, c.Depth)})
			})
			break
		}
		each(c.Ops, func(int) op {
			return w.statOp(decomposedfs.Reference{SpaceID: data, Path: chainPath(rng.IntN(w.cfg.Chains), c.Depth)})
		})
	case "list":
		var refs []decomposedfs.Reference
		if c.Variant == "burst" {
			sid, err := sidOf("burst")
			if err != nil {
				return load{}, err
			}
			refs = append(refs, decomposedfs.Reference{SpaceID: sid, Path: burstFolder})
		} else {
			for i := range w.cfg.listFolders(c.Children) {
				refs = append(refs, decomposedfs.Reference{SpaceID: data, Path: listFolder(c.Children, i)})
			}
		}
		if c.Cache == "cold" {
			each(len(refs), func(k int) op { return w.listOp(refs[k], c.Children) })
			break
		}
		each(c.Ops, func(int) op { return w.listOp(refs[rng.IntN(len(refs))], c.Children) })
	case "create-files", "create-folders":
		for wk := range c.Workers {
			sp, f := c.target(rep, wk)
			sid, err := sidOf(sp)
			if err != nil {
				return load{}, err
			}
			fs := w.fs
			for k := range per {
				ref := decomposedfs.Reference{SpaceID: sid, Path: fmt.Sprintf("%s/f-w%02d-%05d", f, wk, k)}
				run := func(ctx context.Context) error {
					_, err := fs.TouchFile(ctx, ref, time.Time{})
					return err
				}
				if c.Workload == "create-folders" {
					run = func(ctx context.Context) error {
						_, err := fs.CreateDir(ctx, ref)
						return err
					}
				}
				ops[wk] = append(ops[wk], op{what: "create " + ref.Path, run: run})
			}
		}
	case "rename", "move", "delete":
		sid, err := sidOf("work")
		if err != nil {
			return load{}, err
		}
		b := c.base(rep)
		fs := w.fs
		each(c.Ops, func(k int) op {
			switch {
			case c.Workload == "rename":
				return w.moveOp(sid, b+"/"+fileName(k), fmt.Sprintf("%s/g%05d", b, k))
			case c.Workload == "move":
				return w.moveOp(sid, fmt.Sprintf("%s/src/d%05d", b, k), fmt.Sprintf("%s/dst/d%05d", b, k))
			}
			p := b + "/" + fileName(k)
			if c.Variant == "folders" {
				p = fmt.Sprintf("%s/d%05d", b, k)
			}
			return op{what: "delete " + p, run: func(ctx context.Context) error {
				return fs.Delete(ctx, decomposedfs.Reference{SpaceID: sid, Path: p})
			}}
		})
	case "upload-small":
		for wk := range c.Workers {
			sp, f := c.target(rep, wk)
			sid, err := sidOf(sp)
			if err != nil {
				return load{}, err
			}
			for k := range per {
				p := fmt.Sprintf("%s/u-w%02d-%05d.bin", f, wk, k)
				ops[wk] = append(ops[wk], w.uploadOp(sid, p, smallSize(w.cfg.Seed, p)))
			}
		}
	case "upload-burst":
		sid, err := sidOf("burst")
		if err != nil {
			return load{}, err
		}
		n := c.burstPerRep(w.cfg.Reps)
		each(n, func(k int) op {
			p := burstFolder + "/" + burstName(w.burst+k)
			return w.uploadOp(sid, p, smallSize(w.cfg.Seed, p))
		})
	case "mixed":
		if err := w.mixed(ctx, c, rep, ops); err != nil {
			return load{}, err
		}
	default:
		return load{}, fmt.Errorf("unknown workload %q", c.Workload)
	}
	return l, nil
}

// mixed builds a read-mostly mix for each worker: half stat by path, a
// quarter stat by id and a tenth listings of the working set, the rest
// small uploads into the worker's own folder and renames of its own
// uploads. Writers own what they write, so the resulting tree is the same
// however the workers interleave.
func (w *worker) mixed(ctx context.Context, c *Case, rep int, ops [][]op) error {
	set := w.hotSet(c)
	if len(set) == 0 {
		return errors.New("mixed: empty dataset")
	}
	data := w.spaces["data"]
	seed := uint64(c.seed(w.cfg.Seed))
	for wk := range c.Workers {
		rng := rand.New(rand.NewPCG(seed, uint64(rep)<<8|uint64(wk)))
		sp, f := c.target(rep, wk)
		sid, err := w.space(ctx, sp)
		if err != nil {
			return err
		}
		var mine []string
		for k := range c.Ops / c.Workers {
			x := rng.IntN(100)
			i := set[rng.IntN(len(set))]
			n := datasetNode(w.cfg.Seed, i)
			switch {
			case x < 50:
				ops[wk] = append(ops[wk], w.statOp(decomposedfs.Reference{SpaceID: data, Path: n.Path}))
			case x < 75:
				ops[wk] = append(ops[wk], w.statOp(decomposedfs.Reference{SpaceID: data, NodeID: w.dsIDs[i]}))
			case x < 85:
				folder := n.Path
				if !n.Dir {
					folder = n.Parent
				}
				ops[wk] = append(ops[wk], w.listOp(decomposedfs.Reference{SpaceID: data, Path: folder}, -1))
			case x < 97 || len(mine) == 0:
				p := fmt.Sprintf("%s/m%05d.bin", f, k)
				mine = append(mine, p)
				ops[wk] = append(ops[wk], w.uploadOp(sid, p, smallSize(w.cfg.Seed, p)))
			default:
				p := mine[len(mine)-1]
				mine = mine[:len(mine)-1]
				ops[wk] = append(ops[wk], w.moveOp(sid, p, p+".old"))
			}
		}
	}
	return nil
}
