package bench

import (
	"fmt"
	"hash/fnv"
	"strings"
)

// The dataset is an endless sequence of identical subtrees below the data
// space's root; a dataset of n nodes is the sequence's first n, so that a
// larger dataset grows out of a smaller one. Each subtree, in pre-order:
//
//	/p0000/                      1 folder
//	  a0/ .. a8/                 9 folders, 2 files each
//	    file-00.txt, file-01.txt
//	    b0/ .. b8/               81 folders, 11 files each
//	      file-00.txt .. file-10.txt
//
// 91 folders and 909 files, 1 000 nodes, files at depth 3 and 4. Sizes are
// a function of the seed and the path (log-uniform up to 1 MiB), so every
// backend gets the same ones.
const (
	subtreeNodes = 1000
	perA         = 111 // a folder, its 2 files and its 9 b folders of 12 nodes
)

// dsNode is one node of the dataset (or of a fixture).
type dsNode struct {
	Path   string // in the space, "/p0000/a1/file-00.txt"
	Parent string // the parent's path, "/" at the top
	Name   string
	Dir    bool
	Size   int64
}

// datasetNode returns node i of the dataset sequence.
func datasetNode(seed int64, i int) dsNode {
	k, j := i/subtreeNodes, i%subtreeNodes
	top := fmt.Sprintf("/p%04d", k)
	if j == 0 {
		return dsNode{Path: top, Parent: "/", Name: top[1:], Dir: true}
	}
	r := j - 1
	a := fmt.Sprintf("%s/a%d", top, r/perA)
	s := r % perA
	switch {
	case s == 0:
		return dsNode{Path: a, Parent: top, Name: a[len(top)+1:], Dir: true}
	case s <= 2:
		return fileNode(seed, a, fmt.Sprintf("file-%02d.txt", s-1))
	}
	t := s - 3
	b := fmt.Sprintf("%s/b%d", a, t/12)
	if u := t % 12; u > 0 {
		return fileNode(seed, b, fmt.Sprintf("file-%02d.txt", u-1))
	}
	return dsNode{Path: b, Parent: a, Name: b[len(a)+1:], Dir: true}
}

func fileNode(seed int64, parent, name string) dsNode {
	p := parent + "/" + name
	return dsNode{Path: p, Parent: parent, Name: name, Size: sizeOf(seed, p)}
}

// sizeOf is a file's size: log-uniform between 0 and 1 MiB, fixed by the
// seed and the path.
func sizeOf(seed int64, path string) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d:%s", seed, path)
	v := h.Sum64()
	return int64((v >> 8) % (1 << (v % 21)))
}

// smallSize is the size of a small upload: 1 to 16 KiB, fixed by the seed
// and the path.
func smallSize(seed int64, path string) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d:%s", seed, path)
	return 1024 + int64(h.Sum64()%(15*1024+1))
}

// chainPath is the folder at depth d of chain c: /chain-00/d02/../dNN.
func chainPath(c, d int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "/chain-%02d", c)
	for k := 2; k <= d; k++ {
		fmt.Fprintf(&b, "/d%02d", k)
	}
	return b.String()
}

// listFolder is fixture folder i of those with size children.
func listFolder(size, i int) string { return fmt.Sprintf("/list-%d-%02d", size, i) }

// listChild is child j of a listed folder.
func listChild(j int) string { return fmt.Sprintf("e%06d.dat", j) }

// dataFolders counts the folders among the dataset's first n nodes.
func dataFolders(n int) int {
	full, rest := n/subtreeNodes, n%subtreeNodes
	c := full * 91
	for j := range rest {
		if datasetNode(0, j).Dir {
			c++
		}
	}
	return c
}
