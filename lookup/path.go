package lookup

import (
	"errors"
	"strings"
)

// ErrBadPath is returned for paths whose ".." segments would climb above
// their start.
var ErrBadPath = errors.New("lookup: path climbs above its start")

// Split turns a relative path into its segments: empty and "." segments are
// dropped, ".." removes the previous segment, and a ".." that would climb
// above the start is an error rather than silently ignored. Leading and
// trailing slashes do not matter. Segments are not otherwise validated
// (callers check them as names, which rejects NUL bytes).
func Split(p string) ([]string, error) {
	var segs []string
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(segs) == 0 {
				return nil, ErrBadPath
			}
			segs = segs[:len(segs)-1]
		default:
			segs = append(segs, seg)
		}
	}
	return segs, nil
}

// Join returns the path of a child named name below dir, where dir is a
// space path ("/" for the root).
func Join(dir, name string) string {
	if dir == "/" || dir == "" {
		return "/" + name
	}
	return dir + "/" + name
}

// Canonical returns the space path of segments: "/" for none.
func Canonical(segs []string) string {
	if len(segs) == 0 {
		return "/"
	}
	return "/" + strings.Join(segs, "/")
}

// Clean returns the canonical space path of p ("/a/b", or "/" for none),
// without allocating when p already is canonical, the common case.
func Clean(p string) (string, error) {
	if isCanonical(p) {
		return p, nil
	}
	segs, err := Split(p)
	if err != nil {
		return "", err
	}
	return Canonical(segs), nil
}

func isCanonical(p string) bool {
	if p == "/" {
		return true
	}
	if len(p) < 2 || p[0] != '/' || p[len(p)-1] == '/' {
		return false
	}
	start := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		seg := p[start:i]
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		start = i + 1
	}
	return true
}
