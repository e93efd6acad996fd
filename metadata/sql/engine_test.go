package sqlmeta

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/s3dfs/s3dfs/internal/pgtest"
	"github.com/s3dfs/s3dfs/metadata"
)

// Tests of what is particular to a database: the schema's version, what a
// killed process leaves, PostgreSQL's row locks under concurrent
// propagation and moves, corrupt rows, and the durability settings. Each
// runs on both engines unless it is about one of them.

// store is an empty database of one engine; open opens a Backend on it,
// closed when the test ends.
type store struct {
	engine string
	opts   Options
}

func (s store) open(t *testing.T) *Backend {
	t.Helper()
	b, err := s.tryOpen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func (s store) tryOpen() (*Backend, error) {
	if s.engine == "postgres" {
		return OpenPostgres(context.Background(), s.opts)
	}
	return OpenSQLite(context.Background(), s.opts)
}

func stores(t *testing.T, opts Options) []store {
	pg, lite := opts, opts
	pg.DSN = pgtest.New(t)
	lite.Path = filepath.Join(t.TempDir(), "meta.db")
	return []store{{"postgres", pg}, {"sqlite", lite}}
}

func eachEngine(t *testing.T, fn func(t *testing.T, s store)) {
	for _, s := range stores(t, DefaultOptions()) {
		t.Run(s.engine, func(t *testing.T) { fn(t, s) })
	}
}

func newSpace(t *testing.T, b *Backend) string {
	t.Helper()
	sid := uuid.NewString()
	if err := b.CreateSpace(t.Context(), &metadata.Space{ID: sid, Type: metadata.SpaceProject, Name: "s", Btime: 1},
		&metadata.Node{ID: sid, SpaceID: sid, Type: metadata.TypeDir, Mtime: 1}); err != nil {
		t.Fatal(err)
	}
	return sid
}

func mkdir(t *testing.T, b *Backend, sid, parent, name string) string {
	t.Helper()
	n := &metadata.Node{ID: uuid.NewString(), SpaceID: sid, ParentID: parent, Name: name, Type: metadata.TypeDir, Mtime: 1}
	if err := b.CreateNode(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	return n.ID
}

func treeSize(t *testing.T, b *Backend, sid, id string) int64 {
	t.Helper()
	n, err := b.ReadNode(t.Context(), sid, id)
	if err != nil {
		t.Fatal(err)
	}
	return n.Tree.Size
}

// The schema is created once, at version SchemaVersion; a store that
// needs newer code is refused, one whose newer schema declares itself
// compatible is used.
func TestSchemaVersion(t *testing.T) {
	eachEngine(t, func(t *testing.T, s store) {
		ctx := t.Context()
		b := s.open(t)
		sid := newSpace(t, b)
		readVersion := func() (v, c int64) {
			t.Helper()
			if _, err := queryRow(ctx, b.eng.query, `SELECT version, compatible FROM s3dfs_schema`, nil, &v, &c); err != nil {
				t.Fatal(err)
			}
			return v, c
		}
		if v, c := readVersion(); v != SchemaVersion || c != SchemaVersion {
			t.Fatalf("schema version %d, compatible %d; want %d", v, c, SchemaVersion)
		}
		s.open(t) // a second open migrates nothing and keeps the data
		var rows int64
		if _, err := queryRow(ctx, b.eng.query, `SELECT count(*) FROM s3dfs_schema`, nil, &rows); err != nil || rows != 1 {
			t.Fatalf("s3dfs_schema has %d rows (%v) after two opens", rows, err)
		}
		if _, err := b.ReadSpace(ctx, sid); err != nil {
			t.Fatalf("after reopening: %v", err)
		}

		setVersion := func(v, c int) {
			t.Helper()
			if _, err := b.eng.exec(ctx, `UPDATE s3dfs_schema SET version = $1, compatible = $2`, v, c); err != nil {
				t.Fatal(err)
			}
		}
		setVersion(SchemaVersion+1, SchemaVersion+1)
		if _, err := s.tryOpen(); err == nil || !strings.Contains(err.Error(), "needs code for version") {
			t.Errorf("opening a store of an incompatible newer schema: %v", err)
		}
		setVersion(SchemaVersion+1, SchemaVersion)
		if b2, err := s.tryOpen(); err != nil {
			t.Errorf("opening a store of a compatible newer schema: %v", err)
		} else {
			b2.Close()
		}
	})
}

// crashEnv tells the test binary, run again as a child, to kill itself
// halfway through a transaction (see TestCrashHelper).
const crashEnv = "S3DFS_SQLMETA_CRASH"

// A process killed in the middle of a transaction leaves nothing of it:
// not the nodes it inserted, not the moves and propagations it made, not
// the locks it held (the next writer gets them at once).
func TestCrashLeavesNothing(t *testing.T) {
	eachEngine(t, func(t *testing.T, s store) {
		ctx := t.Context()
		b := s.open(t)
		sid := newSpace(t, b)
		d := mkdir(t, b, sid, sid, "d")
		e := mkdir(t, b, sid, sid, "e")

		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%s|%s|%s|%s", crashEnv, s.engine, s.opts.DSN+s.opts.Path, sid, d, e))
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("the helper was not killed: %v\n%s", err, out)
		}

		l, err := b.List(ctx, sid, sid)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Children) != 2 || l.Children[0].ID != d || l.Children[1].ID != e {
			t.Errorf("after the crash the root lists %v", l.Children)
		}
		if l, err := b.List(ctx, sid, d); err != nil || len(l.Children) != 0 {
			t.Errorf("after the crash d lists %v (%v)", l, err)
		}
		for _, id := range []string{sid, d, e} {
			if got := treeSize(t, b, sid, id); got != 0 {
				t.Errorf("after the crash, tree size %d", got)
			}
		}
		// The locks went with the process: writes do not wait.
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := b.Propagate(wctx, sid, d, 1); err != nil {
			t.Fatalf("propagate after the crash: %v", err)
		}
		if _, err := b.MoveNode(wctx, sid, d, e, "d", false); err != nil {
			t.Fatalf("move after the crash: %v", err)
		}
	})
}

// TestCrashHelper is TestCrashLeavesNothing's child: it does nothing
// unless crashEnv is set.
func TestCrashHelper(t *testing.T) {
	spec := os.Getenv(crashEnv)
	if spec == "" {
		return
	}
	f := strings.Split(spec, "|")
	s := store{engine: f[0], opts: DefaultOptions()}
	if s.engine == "postgres" {
		s.opts.DSN = f[1]
	} else {
		s.opts.Path = f[1]
	}
	sid, d, e := f[2], f[3], f[4]
	b, err := s.tryOpen()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tx, err := b.eng.begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := &metadata.Node{ID: uuid.NewString(), SpaceID: sid, ParentID: d, Name: "f", Type: metadata.TypeFile, Size: 5, Mtime: 1}
	rec, err := metadata.EncodeNode(n)
	if err != nil {
		t.Fatal(err)
	}
	steps := []func() error{
		func() error { _, err := tx.exec(ctx, b.q.insertNode, nodeArgs(n, rec, 1)...); return err },
		func() error { _, err := tx.exec(ctx, b.q.moveNode, sid, e, d, "e", int64(2)); return err },
		func() error { _, err := tx.exec(ctx, b.q.propagate, sid, d, int64(5), int64(3)); return err },
		func() error { _, err := tx.exec(ctx, b.q.bumpNS, sid, int64(4)); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// PostgreSQL's propagation reads the path from its statement's snapshot,
// then waits for the rows' locks. Here a folder on the path moves while
// the propagation waits: the delta must follow the folder to its new
// parent, and not go to the old one.
func TestPostgresPropagateFollowsMove(t *testing.T) {
	s := stores(t, DefaultOptions())[0]
	ctx := t.Context()
	b := s.open(t)
	sid := newSpace(t, b)
	p0 := mkdir(t, b, sid, sid, "p0")
	p1 := mkdir(t, b, sid, sid, "p1")
	x := mkdir(t, b, sid, p0, "x")
	y := mkdir(t, b, sid, x, "y")

	// A transaction moves x to p1 and holds x's lock until told to commit.
	pg := b.eng.(*pgEngine)
	tx, err := pg.begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.rollback()
	if _, err := tx.exec(ctx, b.q.moveNode, sid, x, p1, "x", now()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Propagate(ctx, sid, y, 7) }()
	// Wait until the propagation waits for a lock, then commit the move.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int64
		if _, err := queryRow(ctx, pg.query, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%locked AS MATERIALIZED%'`,
			nil, &waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the propagation never waited for the moved folder's lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := tx.commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]int64{y: 7, x: 7, p1: 7, sid: 7, p0: 0} {
		if got := treeSize(t, b, sid, id); got != want {
			t.Errorf("tree size of %s = %d, want %d", id, got, want)
		}
	}
}

// Many writers on two handles propagate at every depth of a tree whose
// folders move between two parents all the while; afterwards every
// folder's tree size is exactly the sum of what was propagated below it,
// as a recount from the final tree says.
func TestConcurrentPropagationIsExact(t *testing.T) {
	eachEngine(t, func(t *testing.T, s store) {
		ctx := t.Context()
		b1, b2 := s.open(t), s.open(t)
		hs := [2]*Backend{b1, b2}
		sid := newSpace(t, b1)
		p := [2]string{mkdir(t, b1, sid, sid, "p0"), mkdir(t, b1, sid, sid, "p1")}
		// Two movable subtrees, a/b/c and m/n, each under p0.
		a := mkdir(t, b1, sid, p[0], "a")
		bb := mkdir(t, b1, sid, a, "b")
		c := mkdir(t, b1, sid, bb, "c")
		m := mkdir(t, b1, sid, p[0], "m")
		nn := mkdir(t, b1, sid, m, "n")
		targets := []string{c, bb, a, nn, m, p[0], p[1], sid}

		const workers, rounds, moves = 8, 40, 20
		var mu sync.Mutex
		own := map[string]int64{} // what was propagated to each folder itself
		var wg sync.WaitGroup
		errs := make(chan error, workers+2)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range rounds {
					id := targets[(w+r)%len(targets)]
					delta := int64(1 + (w*rounds+r)%5)
					if err := hs[w%2].Propagate(ctx, sid, id, delta); err != nil {
						errs <- err
						return
					}
					mu.Lock()
					own[id] += delta
					mu.Unlock()
				}
			}()
		}
		for i, node := range []string{a, m} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h := hs[i]
				for k := range moves {
					from, to := p[k%2], p[(k+1)%2]
					res, err := h.MoveNode(ctx, sid, node, to, []string{"a", "m"}[i], false)
					if err == nil {
						err = h.Propagate(ctx, sid, from, -res.Moved.TreeSize())
					}
					if err == nil {
						err = h.Propagate(ctx, sid, to, res.Moved.TreeSize())
					}
					if err != nil {
						errs <- fmt.Errorf("move %d of %s: %w", k, node, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		// Recount: a folder's size is what was propagated to it and to
		// every folder below it in the final tree.
		var want func(id string) int64
		want = func(id string) int64 {
			sum := own[id]
			l, err := b1.List(ctx, sid, id)
			if err != nil {
				t.Fatal(err)
			}
			for _, ch := range l.Children {
				if ch.IsDir() {
					sum += want(ch.ID)
				}
			}
			return sum
		}
		for _, id := range targets {
			if got, w := treeSize(t, b2, sid, id), want(id); got != w {
				t.Errorf("folder %s: tree size %d, recount %d", id, got, w)
			}
		}
	})
}

// A row whose record does not decode is a Problem of its folder's
// listing, and ErrCorrupt for ReadNode and Lookup; its siblings are
// listed.
func TestCorruptRow(t *testing.T) {
	eachEngine(t, func(t *testing.T, s store) {
		ctx := t.Context()
		b := s.open(t)
		sid := newSpace(t, b)
		good := mkdir(t, b, sid, sid, "good")
		bad := mkdir(t, b, sid, sid, "bad")
		if _, err := b.eng.exec(ctx, `UPDATE s3dfs_nodes SET rec = $2 WHERE id = $1`, bad, []byte{0x81, 0xc1}); err != nil {
			t.Fatal(err)
		}
		l, err := b.List(ctx, sid, sid)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Children) != 1 || l.Children[0].ID != good {
			t.Errorf("listing children %v, want only the good one", l.Children)
		}
		if len(l.Problems) != 1 || l.Problems[0].ID != bad || l.Problems[0].Name != "bad" ||
			!errors.Is(l.Problems[0].Err, metadata.ErrCorrupt) {
			t.Errorf("listing problems %+v, want the bad row as ErrCorrupt", l.Problems)
		}
		if _, err := b.ReadNode(ctx, sid, bad); !errors.Is(err, metadata.ErrCorrupt) {
			t.Errorf("ReadNode of the bad row: %v", err)
		}
		if _, err := b.Lookup(ctx, sid, sid, "bad"); !errors.Is(err, metadata.ErrCorrupt) {
			t.Errorf("Lookup of the bad row: %v", err)
		}
	})
}

// Durability maps to the engines' own settings.
func TestDurabilitySettings(t *testing.T) {
	for _, d := range []Durability{DurabilityNone, DurabilityFsync} {
		opts := DefaultOptions()
		opts.Durability = d
		for _, s := range stores(t, opts) {
			b := s.open(t)
			q, want := `SHOW synchronous_commit`, map[Durability]string{DurabilityNone: "off", DurabilityFsync: "on"}[d]
			if s.engine == "sqlite" {
				q, want = `PRAGMA synchronous`, map[Durability]string{DurabilityNone: "1", DurabilityFsync: "2"}[d]
			}
			// Both pools: SQLite's writer and readers are set up apart.
			var got string
			if _, err := queryRow(t.Context(), b.eng.query, q, nil, &got); err != nil {
				t.Fatal(err)
			}
			tx, err := b.eng.begin(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var inTx string
			_, err = queryRow(t.Context(), tx.query, q, nil, &inTx)
			tx.rollback()
			if err != nil {
				t.Fatal(err)
			}
			if got != want || inTx != want {
				t.Errorf("%s with durability %s: %q / %q in a transaction, want %q", s.engine, d, got, inTx, want)
			}
		}
	}
}

// WalkNodes visits every node of the space once, across pages, trashed
// ones and unreadable ones included, and no node of another space.
func TestWalkNodes(t *testing.T) {
	eachEngine(t, func(t *testing.T, s store) {
		ctx := t.Context()
		b := s.open(t)
		sid := newSpace(t, b)
		other := newSpace(t, b)
		mkdir(t, b, other, other, "elsewhere")
		want := map[string]bool{sid: true}
		d := mkdir(t, b, sid, sid, "d")
		want[d] = true
		for i := range walkPage + 50 {
			n := &metadata.Node{ID: uuid.NewString(), SpaceID: sid, ParentID: d, Name: fmt.Sprint(i), Type: metadata.TypeFile, Mtime: 1}
			if err := b.CreateNode(ctx, n); err != nil {
				t.Fatal(err)
			}
			want[n.ID] = true
		}
		trashed := mkdir(t, b, sid, sid, "trashed")
		want[trashed] = true
		if _, err := b.TrashNode(ctx, sid, trashed); err != nil {
			t.Fatal(err)
		}
		bad := mkdir(t, b, sid, sid, "bad")
		want[bad] = true
		if _, err := b.eng.exec(ctx, `UPDATE s3dfs_nodes SET rec = $2 WHERE id = $1`, bad, []byte{0xc1}); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		err := b.WalkNodes(ctx, sid, func(id string, n *metadata.Node, err error) error {
			if seen[id] {
				t.Errorf("node %s walked twice", id)
			}
			seen[id] = true
			switch {
			case id == bad:
				if n != nil || !errors.Is(err, metadata.ErrCorrupt) {
					t.Errorf("the bad row walks as %v, %v", n, err)
				}
			case err != nil || n.ID != id:
				t.Errorf("node %s walks as %v, %v", id, n, err)
			case id == trashed && n.Trashed == 0:
				t.Error("the trashed node walks without its mark")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) != len(want) {
			t.Errorf("walked %d nodes, want %d", len(seen), len(want))
		}
		for id := range want {
			if !seen[id] {
				t.Errorf("node %s not walked", id)
			}
		}
	})
}
