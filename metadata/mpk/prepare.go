package mpk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/s3dfs/s3dfs/metadata"
	"golang.org/x/sys/unix"
)

// PrepareNode creates the two inodes a new file needs, its record and its
// link, while the caller uploads its content: the record at its final path
// (unlinked, so unseen) and the link as ".pending.<id>" in the shard
// directory. Commit then creates no inode: it rewrites the record in place
// (nobody can be reading it) and renames the link into the parent with
// RENAME_NOREPLACE, which claims the name atomically as symlink(2) would.
// On this disk that takes two file creations off an upload's critical path.
// Where the filesystem has no RENAME_NOREPLACE (NFS), Commit falls back to
// symlink(2) in the parent.
func (b *Backend) PrepareNode(ctx context.Context, n *metadata.Node) (metadata.Pending, error) {
	if err := validIDs(n.SpaceID, n.ID, n.ParentID); err != nil {
		return nil, err
	}
	if err := metadata.ValidateName(n.Name); err != nil {
		return nil, err
	}
	if n.Type != metadata.TypeFile {
		return nil, fmt.Errorf("mpk: only files can be prepared")
	}
	rec, err := metadata.EncodeNode(n)
	if err != nil {
		return nil, err
	}
	p := &pending{b: b, n: n.Clone(), rec: rec, recPath: b.recordPath(n.SpaceID, n.ID),
		link: b.shardPath(n.SpaceID, n.ID) + "/.pending." + n.ID}
	if err := b.createRecord(p.recPath, rec); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: node %s", metadata.ErrExist, n.ID)
		}
		return nil, fmt.Errorf("mpk: prepare: %w", err)
	}
	if err := os.Symlink(n.ID, p.link); err != nil {
		unix.Unlink(p.recPath)
		return nil, fmt.Errorf("mpk: prepare: %w", err)
	}
	return p, nil
}

type pending struct {
	b         *Backend
	n         *metadata.Node // as prepared
	rec       []byte         // the record as written
	recPath   string
	link      string // the prepared link
	committed bool
}

func (p *pending) Abort() {
	if p.committed {
		return
	}
	unix.Unlink(p.link)
	unix.Unlink(p.recPath)
}

func (p *pending) Commit(ctx context.Context, n *metadata.Node) error {
	if p.committed {
		return fmt.Errorf("mpk: node %s committed twice", n.ID)
	}
	if n.ID != p.n.ID || n.SpaceID != p.n.SpaceID || n.ParentID != p.n.ParentID || n.Name != p.n.Name || n.Type != p.n.Type {
		return fmt.Errorf("mpk: commit of node %s does not match what was prepared", p.n.ID)
	}
	rec, err := metadata.EncodeNode(n)
	if err != nil {
		return err
	}
	b, sid := p.b, n.SpaceID
	unlock, err := b.locks.lockNodes(ctx, sid, n.ParentID)
	if err != nil {
		return err
	}
	defer unlock()
	parent, err := b.readFresh(sid, n.ParentID)
	if err != nil {
		return err
	}
	if parent.Type != metadata.TypeDir {
		return fmt.Errorf("%w: %s", metadata.ErrNotDir, n.ParentID)
	}
	if parent.Trashed != 0 {
		return fmt.Errorf("%w: folder %s is in the trash", metadata.ErrNotFound, n.ParentID)
	}
	if err := p.rewrite(rec); err != nil {
		return err
	}
	if err := b.syncDir(b.shardPath(sid, n.ID)); err != nil {
		return fmt.Errorf("mpk: commit: %w", err)
	}
	pdir := b.dirPath(sid, n.ParentID)
	target := pdir + "/" + n.Name
	err = unix.Renameat2(unix.AT_FDCWD, p.link, unix.AT_FDCWD, target, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		// No RENAME_NOREPLACE here: claim the name the plain way.
		if err = unix.Symlink(n.ID, target); err == nil {
			unix.Unlink(p.link)
		}
	}
	if err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("%w: %q in folder %s", metadata.ErrExist, n.Name, n.ParentID)
		}
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("%w: folder %s", metadata.ErrNotFound, n.ParentID)
		}
		return fmt.Errorf("mpk: commit: %w", err)
	}
	p.committed = true
	b.dirChanged(n.ParentID, n.Name)
	if err := b.bumpMtime(pdir); err != nil {
		return fmt.Errorf("mpk: commit: %w", err)
	}
	return b.syncDir(pdir)
}

// rewrite puts the final record bytes into the prepared record file, in
// place: it is not linked yet, so no reader can see a torn record.
func (p *pending) rewrite(rec []byte) error {
	if string(rec) == string(p.rec) {
		return nil
	}
	if p.b.opts.RecordsInXattr {
		if err := p.b.setRecordXattr(p.recPath, rec, 0); err != nil {
			return err
		}
		p.rec = rec
		return nil
	}
	fd, err := openRetry(p.recPath, unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: p.recPath, Err: err}
	}
	if err := p.b.writeAndClose(fd, p.recPath, rec); err != nil {
		return err
	}
	p.rec = rec
	return nil
}
