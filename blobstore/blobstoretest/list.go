package blobstoretest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/s3dfs/s3dfs/blobstore"
)

func sortedCopy(keys []string) []string {
	s := slices.Clone(keys)
	slices.Sort(s) // Go compares strings bytewise: the order List promises
	return s
}

func filterPrefix(keys []string, prefix string) []string {
	var out []string
	for _, k := range keys {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}

func testList(t *testing.T, s blobstore.Store) {
	if keys := listKeys(t, s, ""); len(keys) != 0 {
		t.Fatalf("List of an empty store = %q", keys)
	}
	// '-' (0x2d) < '.' < '/' (0x2f) < '0' (0x30): a store that walks
	// directories and sorts names would put "a/b" before "a-c".
	keys := []string{
		"a-c", "a.d", "a/b", "a/b-x", "a/b0", "a/c/d", "a/c-d", "a/c.e/f", "a0",
		"ab/x", "b", "b0/z", "z/y/x/w", "\u00e9t\u00e9",
	}
	sizes := map[string]int64{}
	shuffled := slices.Clone(keys)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) {
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	})
	for i, k := range shuffled {
		data := payload(uint64(i), i*7)
		mustPut(t, s, k, data, int64(len(data)), map[string]string{"k": "v"})
		sizes[k] = int64(len(data))
	}

	for _, prefix := range []string{"", "a", "a/", "a/c", "a/c/", "a/b", "ab", "ab/x", "b", "z/y/", "zz", "a/c.e/f/"} {
		var got []string
		err := s.List(ctxT(t), prefix, func(info blobstore.Info) error {
			if info.Size != sizes[info.Key] {
				t.Errorf("List(%q): %s has size %d, want %d", prefix, info.Key, info.Size, sizes[info.Key])
			}
			if info.ModTime.IsZero() {
				t.Errorf("List(%q): %s has a zero ModTime", prefix, info.Key)
			}
			got = append(got, info.Key)
			return nil
		})
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		want := filterPrefix(sortedCopy(keys), prefix)
		if !slices.Equal(got, want) {
			t.Errorf("List(%q) = %q\nwant %q", prefix, got, want)
		}
	}
}

var errStop = errors.New("blobstoretest: stop")

func testListStops(t *testing.T, s blobstore.Store) {
	for i := range 5 {
		mustPut(t, s, fmt.Sprintf("k/%d", i), []byte("x"), 1, nil)
	}
	calls := 0
	err := s.List(ctxT(t), "", func(blobstore.Info) error {
		calls++
		if calls == 2 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || calls != 2 {
		t.Errorf("List with fn failing on the 2nd call: error %v after %d calls; want errStop after 2", err, calls)
	}

	ctx, cancel := context.WithCancel(ctxT(t))
	calls = 0
	err = s.List(ctx, "", func(blobstore.Info) error {
		calls++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("List cancelled in the 1st call: error %v after %d calls; want context.Canceled after 1", err, calls)
	}
}

// testListManyPages stores more keys than an S3 list page holds (1000).
func testListManyPages(t *testing.T, s blobstore.Store) {
	const n = 1100
	var g errgroup.Group
	g.SetLimit(16)
	for i := range n {
		g.Go(func() error {
			key := fmt.Sprintf("p/%02d/%04d", i%7, i)
			_, err := s.Put(ctxT(t), key, reader([]byte(key)), int64(len(key)), blobstore.PutOptions{})
			return err
		})
	}
	for _, k := range []string{"o", "p-", "p0/x", "q/1"} { // neighbours outside "p/"
		g.Go(func() error {
			_, err := s.Put(ctxT(t), k, reader([]byte(k)), int64(len(k)), blobstore.PutOptions{})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("Put: %v", err)
	}
	got := listKeys(t, s, "p/")
	if len(got) != n {
		t.Fatalf("List(p/) gave %d keys, want %d", len(got), n)
	}
	for i := 1; i < n; i++ {
		if got[i-1] >= got[i] {
			t.Fatalf("List(p/) is not strictly ascending: %s before %s", got[i-1], got[i])
		}
	}
	if got[0] != "p/00/0000" || got[n-1] != "p/06/1098" {
		t.Errorf("List(p/) runs from %s to %s, want p/00/0000 to p/06/1098", got[0], got[n-1])
	}
	if all := listKeys(t, s, ""); len(all) != n+4 {
		t.Errorf("List() gave %d keys, want %d", len(all), n+4)
	}
}

func testConcurrentWriters(t *testing.T, s blobstore.Store) {
	// 16 writers on distinct keys.
	var g errgroup.Group
	for i := range 16 {
		g.Go(func() error {
			data := payload(uint64(i), 64<<10+i)
			_, err := s.Put(ctxT(t), fmt.Sprintf("distinct/%02d", i), reader(data), int64(len(data)), blobstore.PutOptions{})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	for i := range 16 {
		sameBytes(t, "distinct writer", mustRead(t, s, fmt.Sprintf("distinct/%02d", i), 0, -1), payload(uint64(i), 64<<10+i))
	}

	// 8 writers on one key, with bodies of different sizes (some of them in
	// several parts) and metadata naming the writer: afterwards the key
	// holds exactly one writer's body and that same writer's metadata.
	bodies := make([][]byte, 8)
	for i := range bodies {
		bodies[i] = payload(uint64(100+i), (i+1)*PartSize/4+i)
	}
	var start sync.WaitGroup
	start.Add(1)
	for i := range 8 {
		g.Go(func() error {
			start.Wait()
			size := int64(len(bodies[i]))
			if i%2 == 1 {
				size = -1
			}
			_, err := s.Put(ctxT(t), "same", reader(bodies[i]), size, blobstore.PutOptions{
				Metadata: map[string]string{"writer": fmt.Sprint(i)},
			})
			return err
		})
	}
	start.Done()
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stat(ctxT(t), "same")
	if err != nil {
		t.Fatal(err)
	}
	var w int
	if _, err := fmt.Sscan(st.Metadata["writer"], &w); err != nil || w < 0 || w >= 8 {
		t.Fatalf("metadata %v names no writer", st.Metadata)
	}
	got := mustRead(t, s, "same", 0, -1)
	if st.Size != int64(len(bodies[w])) {
		t.Fatalf("Stat size %d, but writer %d wrote %d bytes", st.Size, w, len(bodies[w]))
	}
	sameBytes(t, fmt.Sprintf("body of writer %d (named by the metadata)", w), got, bodies[w])
}
