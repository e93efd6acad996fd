package extsort

import (
	"bufio"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
)

var u64 = Fixed[uint64]{N: 8,
	Put: func(b []byte, v uint64) { binary.BigEndian.PutUint64(b, v) },
	Get: func(b []byte) uint64 { return binary.BigEndian.Uint64(b) }}

func cmp64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Sorting through runs and compactions gives what sorting in memory gives,
// and leaves no file behind.
func TestSortSpills(t *testing.T) {
	for _, n := range []int{0, 1, 100, 10000, 200000} {
		dir := t.TempDir()
		s, err := New(cmp64, Codec[uint64](u64), Options{Dir: dir, MemoryBytes: 8 * 1000, MaxFanIn: 4})
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(uint64(n), 1))
		want := make([]uint64, n)
		for i := range want {
			want[i] = r.Uint64() % 5000 // duplicates too
			if err := s.Add(want[i]); err != nil {
				t.Fatal(err)
			}
		}
		slices.Sort(want)
		it, err := s.Sorted()
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		for v, ok := it.Next(); ok; v, ok = it.Next() {
			got = append(got, v)
		}
		if it.Err() != nil {
			t.Fatal(it.Err())
		}
		it.Close()
		if !slices.Equal(got, want) {
			t.Fatalf("n=%d: sorted output differs (got %d records)", n, len(got))
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("n=%d: %d run files left", n, len(ents))
		}
	}
}

// A truncated run is an error, not a silent end.
func TestTruncatedRun(t *testing.T) {
	_, err := u64.Read(bufio.NewReader(&shortReader{}))
	if err == nil {
		t.Fatal("no error for a truncated record")
	}
}

type shortReader struct{ done bool }

func (r *shortReader) Read(p []byte) (int, error) {
	if r.done {
		return 0, os.ErrClosed
	}
	r.done = true
	return copy(p, []byte{1, 2, 3}), nil
}
