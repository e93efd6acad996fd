package bench

import (
	"path"
	"strings"
	"testing"
)

func TestDatasetShape(t *testing.T) {
	const n = 3 * subtreeNodes
	seen := map[string]bool{"/": true}
	dirs, files := 0, 0
	for i := range n {
		node := datasetNode(7, i)
		if seen[node.Path] {
			t.Fatalf("node %d: %s twice", i, node.Path)
		}
		if !seen[node.Parent] {
			t.Fatalf("node %d: %s comes before its parent", i, node.Path)
		}
		if path.Dir(node.Path) != node.Parent || path.Base(node.Path) != node.Name {
			t.Fatalf("node %d: path %s, parent %s, name %s disagree", i, node.Path, node.Parent, node.Name)
		}
		seen[node.Path] = true
		if node.Dir {
			dirs++
			if node.Size != 0 {
				t.Fatalf("folder %s has size %d", node.Path, node.Size)
			}
		} else {
			files++
			if node.Size < 0 || node.Size > 1<<20 {
				t.Fatalf("file %s has size %d", node.Path, node.Size)
			}
		}
		if d := strings.Count(node.Path, "/"); d > 4 {
			t.Fatalf("%s is deeper than 4", node.Path)
		}
	}
	if dirs != 3*91 || files != 3*909 {
		t.Errorf("%d folders and %d files, want %d and %d", dirs, files, 3*91, 3*909)
	}
	if got := dataFolders(n); got != dirs {
		t.Errorf("dataFolders = %d, counted %d", got, dirs)
	}
	if got, want := dataFolders(1500), 91+dataFoldersSlow(500); got != want {
		t.Errorf("dataFolders(1500) = %d, want %d", got, want)
	}
}

func dataFoldersSlow(n int) int {
	c := 0
	for i := range n {
		if datasetNode(0, i).Dir {
			c++
		}
	}
	return c
}

func TestDatasetIsFixedBySeed(t *testing.T) {
	differ := 0
	for i := range 1000 {
		a, b := datasetNode(1, i), datasetNode(1, i)
		if a != b {
			t.Fatalf("node %d differs between calls", i)
		}
		if c := datasetNode(2, i); c.Size != a.Size {
			differ++
		}
	}
	if differ < 500 {
		t.Errorf("only %d of 1000 sizes depend on the seed", differ)
	}
}

func TestFixturePaths(t *testing.T) {
	if got := chainPath(3, 1); got != "/chain-03" {
		t.Errorf("chainPath(3, 1) = %s", got)
	}
	p := chainPath(0, 50)
	if strings.Count(p, "/") != 50 || !strings.HasSuffix(p, "/d50") {
		t.Errorf("chainPath(0, 50) = %s", p)
	}
	if path.Dir(chainPath(1, 7)) != chainPath(1, 6) {
		t.Error("chain 1 at depth 7 is not below depth 6")
	}
	for size := range 2000 {
		if s := smallSize(1, listChild(size)); s < 1024 || s > 16<<10 {
			t.Fatalf("small size %d", s)
		}
	}
}

func TestFilesInGroups(t *testing.T) {
	groups := filesIn(1, "/f", 10, 1210, listChild)
	total := 0
	for _, g := range groups {
		if len(g) > 500 {
			t.Errorf("group of %d", len(g))
		}
		total += len(g)
	}
	if total != 1200 || groups[0][0].Name != listChild(10) || groups[0][0].Parent != "/f" {
		t.Errorf("%d files, first %+v", total, groups[0][0])
	}
}
