package check

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/s3dfs/s3dfs/metadata/mpk"
)

// Runs made before the manifest recorded lost+found moves (the repair of a
// store opened with the wrong bucket moved every file there, and its undo
// restored nothing) still say what they did in repairs.ndjson: which node
// moved, from which path, and the blob it had. legacyEntries turns that
// into the manifest entries a newer run would have written, so that Undo
// can take those nodes back too. What they lack: the old folder's id (it
// is found by the old path at undo time) and the checksums of files whose
// blob was missing (gone; the checksums are computed again on the next
// upload).

// hasNodeOps reports whether a manifest records lost+found moves itself.
func hasNodeOps(entries []ManifestEntry) bool {
	return slices.ContainsFunc(entries, func(e ManifestEntry) bool {
		return e.Op == OpRelink || e.Op == OpContent || e.Op == OpMade
	})
}

// legacyEntries reads the repaired lost+found moves of run from its
// repairs.ndjson, in the order they were made.
func legacyEntries(meta *mpk.Backend, run string) ([]ManifestEntry, error) {
	f, err := os.Open(filepath.Join(RunDir(meta.Root(), run), "repairs.ndjson"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var out, made []ManifestEntry
	runDirs := map[string]bool{}
	for sc.Scan() {
		var o Outcome
		if json.Unmarshal(sc.Bytes(), &o) != nil || o.Type != "repair" || o.Result != Repaired || o.Finding == nil {
			continue
		}
		fd := o.Finding
		if fd.Space == "" || fd.Node == "" || fd.Remedy != RemedyLostAndFound {
			continue
		}
		// Where it is now: the record says, if the run put it there.
		r := meta.ReadRaw(fd.Space, fd.Node)
		if r.State != mpk.RecordOK || r.Node.Props[PropRun] != run {
			continue
		}
		now := &Link{Parent: r.Node.ParentID, Name: r.Node.Name}
		if key := fd.Space + "/" + now.Parent; !runDirs[key] {
			// The run's lost+found/<run> folder: removed once empty.
			runDirs[key] = true
			if d := meta.ReadRaw(fd.Space, now.Parent); d.State == mpk.RecordOK && strings.HasPrefix(d.Node.Name, run) {
				made = append(made, ManifestEntry{Op: OpMade, Space: fd.Space, Node: now.Parent, New: &Link{Parent: d.Node.ParentID, Name: d.Node.Name}})
			}
		}
		switch fd.Code {
		case BlobMissing:
			if fd.Facts == nil || fd.Facts.BlobID == "" {
				continue
			}
			out = append(out, ManifestEntry{Op: OpContent, Code: fd.Code, From: fd.Path, Space: fd.Space, Node: fd.Node,
				Old: &NodeState{BlobID: fd.Facts.BlobID, Size: fd.Facts.Size}})
			if fd.Facts.InTrash || !strings.HasPrefix(fd.Path, "/") {
				continue // it stayed where it was
			}
			out = append(out, ManifestEntry{Op: OpRelink, Code: fd.Code, From: fd.Path, Space: fd.Space, Node: fd.Node,
				Old: &NodeState{Name: path.Base(fd.Path), Linked: true}, OldDir: path.Dir(fd.Path), New: now})
		case NodeUnlinked:
			out = append(out, ManifestEntry{Op: OpRelink, Code: fd.Code, From: fd.Path, Space: fd.Space, Node: fd.Node,
				Old: &NodeState{Parent: fd.Parent, Name: fd.Name}, New: now})
		case ChainBroken, ChainCycle:
			if k := fd.Facts; k != nil && k.From != nil {
				out = append(out, ManifestEntry{Op: OpRelink, Code: fd.Code, From: fd.Path, Space: fd.Space, Node: fd.Node,
					Old: &NodeState{Parent: k.From.Parent, Name: k.From.Name, Linked: true}, New: now})
			}
		}
	}
	// Made first: undone last, once the moves out of it are.
	return append(made, out...), sc.Err()
}
