package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/metadata"
)

// Scope is a subtree to compare: a space by name and a path in it. An
// empty Space means every space, whole.
type Scope struct {
	Space string `json:"space,omitempty"`
	Path  string `json:"path,omitempty"`
}

// Snapshot describes a tree as a backend shows it through decomposedfs:
// one line per node, "space:/path<TAB>type<TAB>size", sorted; a folder's
// size is its tree size and its line also counts its children.
type Snapshot struct {
	Digest string   `json:"digest"`
	Nodes  int      `json:"nodes"`
	Lines  []string `json:"lines,omitempty"`
	// Inconsistent lists folders whose tree size is not the sum of their
	// children's sizes (at most maxInconsistent).
	Inconsistent []string `json:"inconsistent,omitempty"`
}

const maxInconsistent = 20

// snapshotTree walks scopes through fs and returns their snapshot; spaces
// maps space names to ids (for an empty scope: all of them).
func snapshotTree(ctx context.Context, fs *decomposedfs.FS, spaces map[string]string, scopes []Scope, full bool) (*Snapshot, error) {
	var lines, bad []string
	visit := func(space string, ri *decomposedfs.ResourceInfo) error {
		// Breadth first, so that a burst folder's 100 000 children do not
		// nest the walk.
		queue := []*decomposedfs.ResourceInfo{ri}
		for len(queue) > 0 {
			n := queue[0]
			queue = queue[1:]
			if n.Type != metadata.TypeDir {
				lines = append(lines, fmt.Sprintf("%s:%s\tf\t%d", space, n.Path, n.Size))
				continue
			}
			l, err := fs.ListFolder(ctx, decomposedfs.Reference{SpaceID: n.SpaceID, NodeID: n.ID})
			if err != nil {
				return fmt.Errorf("list %s:%s: %w", space, n.Path, err)
			}
			var sum int64
			for _, c := range l.Children {
				sum += c.Size
			}
			lines = append(lines, fmt.Sprintf("%s:%s\td\t%d\t%d children", space, n.Path, n.Size, len(l.Children)))
			for _, p := range l.Problems {
				lines = append(lines, fmt.Sprintf("%s:%s\tproblem\t%s: %v", space, joinPath(n.Path, p.Name), p.ID, p.Err))
			}
			if sum != n.Size && len(bad) < maxInconsistent {
				bad = append(bad, fmt.Sprintf("%s:%s: tree size %d, children sum to %d", space, n.Path, n.Size, sum))
			}
			queue = append(queue, l.Children...)
		}
		return nil
	}
	if len(scopes) == 0 || (len(scopes) == 1 && scopes[0].Space == "") {
		scopes = nil
		for name := range spaces {
			scopes = append(scopes, Scope{Space: name, Path: "/"})
		}
	}
	for _, sc := range scopes {
		sid, ok := spaces[sc.Space]
		if !ok {
			return nil, fmt.Errorf("snapshot: no space %q", sc.Space)
		}
		p := sc.Path
		if p == "" {
			p = "/"
		}
		ri, err := fs.GetMD(ctx, decomposedfs.Reference{SpaceID: sid, Path: p})
		if errors.Is(err, decomposedfs.ErrNotFound) {
			lines = append(lines, fmt.Sprintf("%s:%s\tmissing", sc.Space, p))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("snapshot %s:%s: %w", sc.Space, p, err)
		}
		if err := visit(sc.Space, ri); err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
	}
	slices.Sort(lines)
	lines = slices.Compact(lines) // overlapping scopes
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	s := &Snapshot{Digest: hex.EncodeToString(h.Sum(nil)), Nodes: len(lines), Inconsistent: bad}
	if full {
		s.Lines = lines
	}
	return s, nil
}

func joinPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// ErrTreeMismatch: backends disagree on a tree after running the same
// workload, or a backend's tree sizes do not add up.
var ErrTreeMismatch = errors.New("bench: backends disagree on the resulting tree")

// Difference is a node on which two snapshots disagree: the line each has
// for it ("" where it has none).
type Difference struct {
	Path string
	A, B string
}

// maxDiffs bounds the differences a mismatch report lists.
const maxDiffs = 20

// diffLines compares two sorted snapshots line by line, keyed by the
// path (the text before the first tab), and returns up to limit
// differences and how many there are in all.
func diffLines(a, b []string, limit int) ([]Difference, int) {
	key := func(l string) string {
		k, _, _ := strings.Cut(l, "\t")
		return k
	}
	var out []Difference
	total := 0
	note := func(d Difference) {
		total++
		if len(out) < limit {
			out = append(out, d)
		}
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && key(a[i]) < key(b[j])):
			note(Difference{Path: key(a[i]), A: a[i]})
			i++
		case i == len(a) || key(b[j]) < key(a[i]):
			note(Difference{Path: key(b[j]), B: b[j]})
			j++
		default:
			if a[i] != b[j] {
				note(Difference{Path: key(a[i]), A: a[i], B: b[j]})
			}
			i++
			j++
		}
	}
	return out, total
}

// mismatchError describes how backend b's tree differs from reference
// backend a's.
func mismatchError(after, nameA, nameB string, a, b []string) error {
	diffs, total := diffLines(a, b, maxDiffs)
	var sb strings.Builder
	fmt.Fprintf(&sb, "after %s: %s and %s differ in %d node(s):", after, nameA, nameB, total)
	show := func(l string) string {
		if l == "" {
			return "(none)"
		}
		_, rest, _ := strings.Cut(l, "\t")
		return strings.ReplaceAll(rest, "\t", " ")
	}
	for _, d := range diffs {
		fmt.Fprintf(&sb, "\n  %s: %s has %s, %s has %s", d.Path, nameA, show(d.A), nameB, show(d.B))
	}
	if total > len(diffs) {
		fmt.Fprintf(&sb, "\n  ... and %d more", total-len(diffs))
	}
	return fmt.Errorf("%w: %s", ErrTreeMismatch, sb.String())
}

// inconsistentError reports a backend whose tree sizes do not add up.
func inconsistentError(after, name string, bad []string) error {
	return fmt.Errorf("%w: after %s: %s's tree sizes do not add up:\n  %s", ErrTreeMismatch, after, name, strings.Join(bad, "\n  "))
}
