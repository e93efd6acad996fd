package decomposedfs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// as is a request context acting for user, a member of groups.
func as(user string, groups ...string) context.Context {
	return decomposedfs.WithUser(context.Background(), user, groups...)
}

// admin is a context without a user: every permission, as admin tools have.
var admin = context.Background()

// The roles of the matrix: "owner" is the space's owner (alice), "none" a
// user without any grant, the others bob with that role on the space root.
var permRoles = []string{"owner", "manager", "editor", "uploader", "viewer", "none"}

// permFixture is what one operation of the matrix works on, below dir:
//
//	dir/f        a file with one revision (rev)
//	dir/d/g      a folder with a file, locked by bob
//	dir/e/h      a folder with a file, not locked
//	trashFile    a file deleted from dir/t
//	trashDir     a folder deleted from dir/td, with a file x inside
//	grant        carol's viewer grant on dir/f
//	lock         a lock bob took on dir/d/g
type permFixture struct {
	e         *env
	dir       string
	rev       string
	trashFile string
	trashDir  string
	grant     string
	lock      string
}

func (f *permFixture) ref(rel string) decomposedfs.Reference { return f.e.ref(f.dir + rel) }

func newPermFixture(t *testing.T, e *env, dir string) *permFixture {
	t.Helper()
	f := &permFixture{e: e, dir: dir}
	e.mkdir(t, dir)
	e.mkdir(t, dir+"/d")
	e.put(t, dir+"/d/g", []byte("g"))
	e.mkdir(t, dir+"/e")
	e.put(t, dir+"/e/h", []byte("h"))
	e.put(t, dir+"/f", []byte("one"))
	e.put(t, dir+"/f", []byte("two!"))
	revs, err := e.fs.ListRevisions(admin, e.ref(dir+"/f"))
	if err != nil || len(revs) != 1 {
		t.Fatalf("fixture revisions: %v %v", revs, err)
	}
	f.rev = revs[0].ID
	f.trashFile = e.put(t, dir+"/t", []byte("trash me")).ID
	if err := e.fs.Delete(admin, e.ref(dir+"/t")); err != nil {
		t.Fatal(err)
	}
	f.trashDir = e.mkdir(t, dir+"/td").ID
	e.put(t, dir+"/td/x", []byte("x"))
	if err := e.fs.Delete(admin, e.ref(dir+"/td")); err != nil {
		t.Fatal(err)
	}
	g, err := e.fs.AddGrant(admin, e.ref(dir+"/f"), decomposedfs.GrantSpec{Grantee: "user:carol", Role: "viewer"})
	if err != nil {
		t.Fatal(err)
	}
	f.grant = g.ID
	l, err := e.fs.Lock(admin, e.ref(dir+"/d/g"), decomposedfs.LockOptions{User: "bob", Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	f.lock = l.Token
	return f
}

// snapshot describes, as an admin sees it, everything an operation of the
// matrix could change: the fixture's subtree, the trash, and the space
// record's visible fields. An operation that fails must leave it as it was.
func (f *permFixture) snapshot(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	var walk func(p string)
	walk = func(p string) {
		l, err := f.e.fs.ListFolder(admin, f.e.ref(p))
		if err != nil {
			t.Fatalf("snapshot %s: %v", p, err)
		}
		fmt.Fprintf(&b, "%s size=%d etag=%s props=%v\n", p, l.Folder.Size, l.Folder.Etag, l.Folder.Props)
		for _, c := range l.Children {
			if c.IsDir() {
				walk(c.Path)
				continue
			}
			revs, err := f.e.fs.ListRevisions(admin, f.e.ref(c.Path))
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s size=%d etag=%s props=%v revs=%d\n", c.Path, c.Size, c.Etag, c.Props, len(revs))
		}
	}
	if _, err := f.e.fs.GetMD(admin, f.e.ref(f.dir)); err == nil {
		walk(f.dir)
	}
	items, err := f.e.fs.ListTrash(admin, f.e.sid)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		fmt.Fprintf(&b, "trash %s %s\n", it.ID, it.Name)
	}
	si, err := f.e.fs.GetSpace(admin, f.e.sid)
	if err != nil {
		t.Fatal(err)
	}
	gs, err := f.e.fs.Grants(admin, f.e.sid)
	if err != nil {
		t.Fatal(err)
	}
	locks, err := f.e.fs.SpaceLocks(admin, f.e.sid)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "space name=%q desc=%q quota=%d disabled=%v grants=%d locks=%d\n", si.Name, si.Description, si.Quota, !si.Disabled.IsZero(), len(gs), len(locks))
	return b.String()
}

func roleSet(s string) []string { return strings.Fields(s) }

// permCase is an operation of the matrix and what each role gets: ok
// roles succeed, hidden roles get ErrNotFound (they may not see the
// target), every other role ErrPermissionDenied.
type permCase struct {
	name    string
	shared  bool // changes nothing that later cases see: runs on one fixture shared by all such cases
	ok      []string
	hidden  []string                           // default: "none"
	prep    func(t *testing.T, f *permFixture) // as admin, before
	run     func(ctx context.Context, f *permFixture) error
	cleanup func(t *testing.T, f *permFixture) // as admin, after
}

const (
	everyone    = "owner manager editor uploader viewer"
	readers     = "owner manager editor viewer"
	creators    = "owner manager editor uploader"
	writers     = "owner manager editor"
	managers    = "owner manager"
	notManagers = "none viewer uploader editor"
)

func upload(ctx context.Context, fs *decomposedfs.FS, ref decomposedfs.Reference, data string) error {
	_, err := fs.Upload(ctx, ref, strings.NewReader(data), decomposedfs.UploadOptions{Size: int64(len(data))})
	return err
}

func readAll(rc io.ReadCloser, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func disableSpace(t *testing.T, f *permFixture) {
	t.Helper()
	if err := f.e.fs.DisableSpace(admin, f.e.sid); err != nil {
		t.Fatal(err)
	}
}

func enableSpace(t *testing.T, f *permFixture) {
	t.Helper()
	if err := f.e.fs.RestoreSpace(admin, f.e.sid); err != nil {
		t.Fatal(err)
	}
}

var permCases = []permCase{
	{name: "GetMD", shared: true, ok: roleSet(everyone), run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.GetMD(ctx, f.ref("/f"))
		return err
	}},
	{name: "ListFolder", shared: true, ok: roleSet(everyone), run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.ListFolder(ctx, f.ref(""))
		return err
	}},
	{name: "Download", shared: true, ok: roleSet(readers), run: func(ctx context.Context, f *permFixture) error {
		b, err := downloadAll(f.e.fs.Download(ctx, f.ref("/f"), 0, -1))
		if err == nil && string(b) != "two!" {
			return fmt.Errorf("downloaded %q", b)
		}
		return err
	}},
	{name: "UploadNew", ok: roleSet(creators), run: func(ctx context.Context, f *permFixture) error {
		return upload(ctx, f.e.fs, f.ref("/new"), "new")
	}},
	{name: "UploadOverwrite", ok: roleSet(writers), run: func(ctx context.Context, f *permFixture) error {
		return upload(ctx, f.e.fs, f.ref("/f"), "three")
	}},
	{name: "UploadUnknownSize", ok: roleSet(creators), run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.Upload(ctx, f.ref("/new"), strings.NewReader("new"), decomposedfs.UploadOptions{Size: -1})
		return err
	}},
	{name: "CreateDir", ok: roleSet(creators), run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.CreateDir(ctx, f.ref("/newdir"))
		return err
	}},
	{name: "TouchFile", ok: roleSet(creators), run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.TouchFile(ctx, f.ref("/touched"), time.Time{})
		return err
	}},
	{name: "Rename", ok: roleSet(writers), run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.Move(ctx, f.ref("/f"), f.ref("/renamed"), false)
		return err
	}},
	{name: "MoveIntoFolder", ok: roleSet(writers), run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.Move(ctx, f.ref("/f"), f.ref("/e/f"), false)
		return err
	}},
	{name: "MoveOverwrite", ok: roleSet(writers), run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.Move(ctx, f.ref("/f"), f.ref("/e/h"), true)
		return err
	}},
	{name: "MoveFolder", ok: roleSet(writers), run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.Move(ctx, f.ref("/e"), f.ref("/e2"), false)
		return err
	}},
	{name: "Copy", ok: roleSet(writers), run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.Copy(ctx, f.ref("/f"), f.ref("/copy"), decomposedfs.CopyOptions{})
		return err
	}},
	{name: "CopyFolder", ok: roleSet(writers), run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.Copy(ctx, f.ref("/e"), f.ref("/ecopy"), decomposedfs.CopyOptions{})
		return err
	}},
	{name: "Delete", ok: roleSet(writers), run: func(ctx context.Context, f *permFixture) error {
		return f.e.fs.Delete(ctx, f.ref("/f"))
	}},
	{name: "SetProps", ok: roleSet(writers), run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.SetProps(ctx, f.ref("/f"), map[string]string{"{urn:x}color": "red"}, nil)
		return err
	}},
	{name: "SetFavorite", shared: true, ok: roleSet(everyone), run: func(ctx context.Context, f *permFixture) error {
		return f.e.fs.SetFavorite(ctx, f.ref("/f"), true)
	}},
	{name: "Lock", ok: roleSet(writers), run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.Lock(ctx, f.ref("/f"), decomposedfs.LockOptions{User: decomposedfs.UserOf(ctx)})
		return err
	}},
	{name: "RefreshLock", ok: roleSet(writers), run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.RefreshLock(ctx, f.ref("/d/g"), f.lock, time.Minute)
		if errors.Is(err, decomposedfs.ErrNoSuchLock) && decomposedfs.UserOf(ctx) == "alice" {
			return nil // allowed, but the lock is bob's
		}
		return err
	}},
	{name: "Unlock", ok: roleSet(writers), run: func(ctx context.Context, f *permFixture) error {
		err := f.e.fs.Unlock(ctx, f.ref("/d/g"), f.lock)
		if errors.Is(err, decomposedfs.ErrNoSuchLock) && decomposedfs.UserOf(ctx) == "alice" {
			return nil
		}
		return err
	}},
	{name: "Locks", shared: true, ok: roleSet(everyone), run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.Locks(ctx, f.ref("/d/g"))
		return err
	}},
	{name: "ListRevisions", shared: true, ok: roleSet(readers), run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.ListRevisions(ctx, f.ref("/f"))
		return err
	}},
	{name: "DownloadRevision", shared: true, ok: roleSet(readers), run: func(ctx context.Context, f *permFixture) error {
		rc, _, err := f.e.fs.DownloadRevision(ctx, f.ref("/f"), f.rev, 0, -1)
		b, err := readAll(rc, err)
		if err == nil && string(b) != "one" {
			return fmt.Errorf("revision %q", b)
		}
		return err
	}},
	{name: "RestoreRevision", ok: roleSet(writers), run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.RestoreRevision(ctx, f.ref("/f"), f.rev)
		return err
	}},
	{name: "DeleteRevision", ok: roleSet(writers), run: func(ctx context.Context, f *permFixture) error {
		return f.e.fs.DeleteRevision(ctx, f.ref("/f"), f.rev)
	}},
	{name: "ListTrash", shared: true, ok: roleSet(writers), run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.ListTrash(ctx, f.e.sid)
		return err
	}},
	{name: "ListTrashFolder", shared: true, ok: roleSet(writers), run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.ListTrashFolder(ctx, f.e.sid, f.trashDir, "")
		return err
	}},
	{name: "RestoreTrash", ok: roleSet(writers), run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.RestoreTrash(ctx, f.e.sid, f.trashFile, decomposedfs.RestoreOptions{})
		return err
	}},
	{name: "RestoreTrashElsewhere", ok: roleSet(writers), run: func(ctx context.Context, f *permFixture) error {
		target := f.ref("/e/restored")
		_, err := f.e.fs.RestoreTrash(ctx, f.e.sid, f.trashDir, decomposedfs.RestoreOptions{Path: "x", Target: &target})
		return err
	}},
	{name: "PurgeTrash", ok: roleSet(managers), run: func(ctx context.Context, f *permFixture) error {
		return f.e.fs.PurgeTrash(ctx, f.e.sid, f.trashFile)
	}},
	{name: "InitiateUploadNew", shared: true, ok: roleSet(creators), run: func(ctx context.Context, f *permFixture) error {
		s, err := f.e.fs.InitiateUpload(ctx, decomposedfs.UploadSpec{Ref: f.ref("/tus"), Size: 3, User: decomposedfs.UserOf(ctx)})
		if err == nil {
			err = f.e.fs.AbortUpload(ctx, s.ID)
		}
		return err
	}},
	{name: "InitiateUploadOverwrite", shared: true, ok: roleSet(writers), run: func(ctx context.Context, f *permFixture) error {
		s, err := f.e.fs.InitiateUpload(ctx, decomposedfs.UploadSpec{Ref: f.ref("/f"), Size: 3, User: decomposedfs.UserOf(ctx)})
		if err == nil {
			err = f.e.fs.AbortUpload(ctx, s.ID)
		}
		return err
	}},
	{name: "AddGrant", shared: true, ok: roleSet(managers), run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.AddGrant(ctx, f.ref("/d"), decomposedfs.GrantSpec{Grantee: "user:dave", Role: "editor"})
		return err
	}},
	{name: "RemoveGrant", ok: roleSet(managers), run: func(ctx context.Context, f *permFixture) error {
		return f.e.fs.RemoveGrant(ctx, f.e.sid, f.grant)
	}},
	{name: "Grants", shared: true, ok: roleSet(everyone), run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.Grants(ctx, f.e.sid)
		return err
	}},
	{name: "GetSpace", shared: true, ok: roleSet(everyone), run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.GetSpace(ctx, f.e.sid)
		return err
	}},
	{name: "UpdateSpace", shared: true, ok: roleSet(managers), run: func(ctx context.Context, f *permFixture) error {
		desc := "described by " + decomposedfs.UserOf(ctx)
		_, err := f.e.fs.UpdateSpace(ctx, f.e.sid, decomposedfs.SpaceUpdate{Description: &desc})
		return err
	}},
	// Quotas are an administrator's business: even the owner may not.
	{name: "SetQuota", shared: true, ok: nil, hidden: []string{}, run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.SetQuota(ctx, f.e.sid, 1<<30)
		return err
	}},
	{name: "PurgeTrashOlderThan", ok: roleSet(managers), run: func(ctx context.Context, f *permFixture) error {
		_, err := f.e.fs.PurgeTrashOlderThan(ctx, f.e.sid, time.Nanosecond)
		return err
	}},
	{name: "EmptyTrash", ok: roleSet(managers),
		prep: func(t *testing.T, f *permFixture) {
			if err := f.e.fs.Delete(admin, f.ref("/f")); err != nil {
				t.Fatal(err)
			}
		},
		run: func(ctx context.Context, f *permFixture) error {
			_, err := f.e.fs.EmptyTrash(ctx, f.e.sid)
			return err
		}},
	// A disabled space is invisible to everyone but its managers, and
	// nobody writes to it.
	{name: "DisabledGetMD", shared: true, ok: roleSet(managers), hidden: roleSet(notManagers), prep: disableSpace, cleanup: enableSpace,
		run: func(ctx context.Context, f *permFixture) error {
			_, err := f.e.fs.GetMD(ctx, f.ref("/f"))
			return err
		}},
	{name: "DisabledUpload", shared: true, ok: nil, hidden: roleSet(notManagers), prep: disableSpace, cleanup: enableSpace,
		run: func(ctx context.Context, f *permFixture) error {
			return upload(ctx, f.e.fs, f.ref("/new"), "new")
		}},
	{name: "DisabledDelete", shared: true, ok: nil, hidden: roleSet(notManagers), prep: disableSpace, cleanup: enableSpace,
		run: func(ctx context.Context, f *permFixture) error {
			return f.e.fs.Delete(ctx, f.ref("/f"))
		}},
	{name: "DisableSpace", shared: true, ok: roleSet(managers), cleanup: enableSpace, run: func(ctx context.Context, f *permFixture) error {
		return f.e.fs.DisableSpace(ctx, f.e.sid)
	}},
	{name: "RestoreSpace", shared: true, ok: roleSet(managers), hidden: roleSet(notManagers), prep: disableSpace, cleanup: enableSpace,
		run: func(ctx context.Context, f *permFixture) error {
			return f.e.fs.RestoreSpace(ctx, f.e.sid)
		}},
	// Last: it ends the space for the roles that may.
	{name: "PurgeSpace", ok: roleSet(managers), hidden: roleSet(notManagers), prep: disableSpace,
		run: func(ctx context.Context, f *permFixture) error {
			return f.e.fs.PurgeSpace(ctx, f.e.sid)
		}},
}

// downloadAll reads what Download opened.
func downloadAll(rc io.ReadCloser, _ *decomposedfs.ResourceInfo, err error) ([]byte, error) {
	return readAll(rc, err)
}

// TestPermissionMatrix runs every operation as every role and checks the
// exact outcome: success, ErrPermissionDenied, or ErrNotFound where the
// role may not even see the target. An operation that fails changes
// nothing.
func TestPermissionMatrix(t *testing.T) {
	for _, role := range permRoles {
		t.Run(role, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, posixBlobs)
			ctx := as("bob")
			switch role {
			case "owner":
				ctx = as("alice")
			case "none":
				// Someone else's grant, so that the space has grants to
				// evaluate.
				if _, err := e.fs.AddGrant(admin, e.ref("/"), decomposedfs.GrantSpec{Grantee: "user:carol", Role: "viewer"}); err != nil {
					t.Fatal(err)
				}
			default:
				if _, err := e.fs.AddGrant(admin, e.ref("/"), decomposedfs.GrantSpec{Grantee: "user:bob", Role: role}); err != nil {
					t.Fatal(err)
				}
			}
			var sharedFixture *permFixture
			for _, c := range permCases {
				var f *permFixture
				switch {
				case !c.shared:
					f = newPermFixture(t, e, "/"+c.name)
				case sharedFixture == nil:
					sharedFixture = newPermFixture(t, e, "/shared")
					fallthrough
				default:
					f = sharedFixture
				}
				if c.prep != nil {
					c.prep(t, f)
				}
				before := f.snapshot(t)
				err := c.run(ctx, f)
				hidden := c.hidden
				if hidden == nil {
					hidden = []string{"none"}
				}
				switch {
				case slices.Contains(c.ok, role):
					if err != nil {
						t.Errorf("%s as %s: %v, want success", c.name, role, err)
					}
				case slices.Contains(hidden, role):
					if !errors.Is(err, decomposedfs.ErrNotFound) {
						t.Errorf("%s as %s: %v, want ErrNotFound", c.name, role, err)
					}
				default:
					if !errors.Is(err, decomposedfs.ErrPermissionDenied) || errors.Is(err, decomposedfs.ErrNotFound) {
						t.Errorf("%s as %s: %v, want ErrPermissionDenied", c.name, role, err)
					}
				}
				if err != nil {
					if after := f.snapshot(t); after != before {
						t.Errorf("%s as %s failed (%v) but changed the store:\nbefore:\n%safter:\n%s", c.name, role, err, before, after)
					}
				}
				if c.cleanup != nil {
					c.cleanup(t, f)
				}
			}
			e.consistent(t)
		})
	}
}

// The permissions a resource reports are its role's, for every role.
func TestPermissionsReported(t *testing.T) {
	e := newEnv(t, posixBlobs)
	e.mkdir(t, "/a")
	e.put(t, "/a/f", []byte("f"))
	users := map[string]string{"manager": "mia", "editor": "ed", "uploader": "uma", "viewer": "vic"}
	for role, user := range users {
		if _, err := e.fs.AddGrant(admin, e.ref("/a"), decomposedfs.GrantSpec{Grantee: "user:" + user, Role: role}); err != nil {
			t.Fatal(err)
		}
	}
	users["owner"] = "alice"
	for role, user := range users {
		want := decomposedfs.Roles[role]
		if role == "owner" {
			want = decomposedfs.PermAll
		}
		ri, err := e.fs.GetMD(as(user), e.ref("/a/f"))
		if err != nil || ri.Permissions != want {
			t.Errorf("%s: GetMD permissions %v (%v), want %v", role, ri.Permissions, err, want)
			continue
		}
		l, err := e.fs.ListFolder(as(user), e.ref("/a"))
		if err != nil || l.Folder.Permissions != want || len(l.Children) != 1 || l.Children[0].Permissions != want {
			t.Errorf("%s: listing permissions %+v %v, want %v", role, l, err, want)
		}
	}
}

// A user without access gets ErrNotFound for anything he may not see,
// exactly as for what does not exist: no error tells a hidden file from a
// hidden folder, or a hidden node from a missing one.
func TestPermissionsDoNotLeakExistence(t *testing.T) {
	e := newEnv(t, posixBlobs)
	e.mkdir(t, "/pub")
	e.mkdir(t, "/hidden")
	e.mkdir(t, "/hidden/dir")
	e.mkdir(t, "/hidden/dir/sub")
	e.put(t, "/hidden/file", []byte("secret"))
	e.put(t, "/hidden/file", []byte("secret 2"))
	if _, err := e.fs.AddGrant(admin, e.ref("/pub"), decomposedfs.GrantSpec{Grantee: "user:bob", Role: "editor"}); err != nil {
		t.Fatal(err)
	}
	other, err := e.fs.CreateSpace(admin, decomposedfs.SpaceSpec{Name: "other", Owner: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	bob := as("bob")
	fs := e.fs
	for _, p := range []string{"/hidden/dir", "/hidden/file", "/hidden/nope", "/nope"} {
		sub := p + "/x"
		checks := map[string]error{}
		_, checks["GetMD"] = fs.GetMD(bob, e.ref(p))
		_, checks["GetMD below"] = fs.GetMD(bob, e.ref(sub+"/y"))
		_, checks["ListFolder"] = fs.ListFolder(bob, e.ref(p))
		_, _, checks["Download"] = fs.Download(bob, e.ref(p), 0, -1)
		_, checks["ListRevisions"] = fs.ListRevisions(bob, e.ref(p))
		_, _, checks["DownloadRevision"] = fs.DownloadRevision(bob, e.ref(p), "1", 0, -1)
		_, checks["RestoreRevision"] = fs.RestoreRevision(bob, e.ref(p), "1")
		checks["DeleteRevision"] = fs.DeleteRevision(bob, e.ref(p), "1")
		checks["Upload"] = upload(bob, fs, e.ref(p), "x")
		_, checks["Upload create-only"] = fs.Upload(bob, e.ref(p), strings.NewReader("x"), decomposedfs.UploadOptions{Size: 1, CreateOnly: true})
		checks["Upload below"] = upload(bob, fs, e.ref(sub), "x")
		checks["Upload two below"] = upload(bob, fs, e.ref(sub+"/y"), "x")
		_, checks["InitiateUpload"] = fs.InitiateUpload(bob, decomposedfs.UploadSpec{Ref: e.ref(p), Size: 1, User: "bob"})
		_, checks["InitiateUpload below"] = fs.InitiateUpload(bob, decomposedfs.UploadSpec{Ref: e.ref(sub), Size: 1, User: "bob"})
		_, checks["CreateDir"] = fs.CreateDir(bob, e.ref(p))
		_, checks["CreateDir below"] = fs.CreateDir(bob, e.ref(sub))
		_, checks["TouchFile below"] = fs.TouchFile(bob, e.ref(sub), time.Time{})
		checks["Delete"] = fs.Delete(bob, e.ref(p))
		_, checks["Move from"] = fs.Move(bob, e.ref(p), e.ref("/pub/m"), false)
		_, checks["Move to"] = fs.Move(bob, e.ref("/pub"), e.ref(sub), false)
		_, checks["Move to other space"] = fs.Move(bob, e.ref(p), decomposedfs.Reference{SpaceID: other.ID, Path: "/m"}, false)
		_, checks["Move into itself"] = fs.Move(bob, e.ref(p), e.ref(p+"/sub/m"), false)
		_, checks["Copy from"] = fs.Copy(bob, e.ref(p), e.ref("/pub/c"), decomposedfs.CopyOptions{})
		_, checks["Copy to"] = fs.Copy(bob, e.ref("/pub"), e.ref(sub), decomposedfs.CopyOptions{})
		_, checks["Copy into itself"] = fs.Copy(bob, e.ref(p), e.ref(p+"/sub/c"), decomposedfs.CopyOptions{})
		_, checks["SetProps"] = fs.SetProps(bob, e.ref(p), map[string]string{"k": "v"}, nil)
		checks["SetFavorite"] = fs.SetFavorite(bob, e.ref(p), true)
		_, checks["Lock"] = fs.Lock(bob, e.ref(p), decomposedfs.LockOptions{User: "bob"})
		_, checks["Locks"] = fs.Locks(bob, e.ref(p))
		_, checks["AddGrant"] = fs.AddGrant(bob, e.ref(p), decomposedfs.GrantSpec{Grantee: "user:eve", Role: "viewer"})
		for _, what := range slices.Sorted(maps.Keys(checks)) {
			if err := checks[what]; !errors.Is(err, decomposedfs.ErrNotFound) {
				t.Errorf("%s %s: %v, want ErrNotFound", what, p, err)
			}
		}
	}
	// The space root cannot be moved or deleted, but a user who may not
	// see the space learns nothing from trying.
	if err := fs.Delete(bob, e.ref("/")); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("Delete of an invisible space root: %v, want ErrNotFound", err)
	}
	if _, err := fs.Move(bob, e.ref("/"), e.ref("/pub/root"), false); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("Move of an invisible space root: %v, want ErrNotFound", err)
	}
	// A space in which the user may see nothing is not found either.
	if _, err := fs.Grants(as("eve"), e.sid); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("Grants of an invisible space: %v, want ErrNotFound", err)
	}
	if _, err := fs.GetSpace(as("eve"), e.sid); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("GetSpace of an invisible space: %v, want ErrNotFound", err)
	}
	if _, err := fs.ListTrash(as("eve"), e.sid); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("ListTrash of an invisible space: %v, want ErrNotFound", err)
	}
	e.consistent(t)
}

// A grant on a folder applies to everything below it, and nothing above or
// beside it.
func TestPermissionsInherited(t *testing.T) {
	e := newEnv(t, posixBlobs)
	e.mkdir(t, "/a")
	e.mkdir(t, "/a/b")
	e.mkdir(t, "/a/b/c")
	e.mkdir(t, "/other")
	e.put(t, "/a/b/c/f", []byte("deep"))
	e.put(t, "/other/o", []byte("o"))
	if _, err := e.fs.AddGrant(admin, e.ref("/a"), decomposedfs.GrantSpec{Grantee: "user:bob", Role: "editor"}); err != nil {
		t.Fatal(err)
	}
	bob := as("bob")
	ri, err := e.fs.GetMD(bob, e.ref("/a/b/c/f"))
	if err != nil || ri.Permissions != decomposedfs.Roles["editor"] {
		t.Fatalf("inherited: %+v %v", ri, err)
	}
	if err := upload(bob, e.fs, e.ref("/a/b/c/new"), "new"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Move(bob, e.ref("/a/b/c/f"), e.ref("/a/f"), false); err != nil {
		t.Fatal(err)
	}
	// By id too: the grant follows the node's path, however it is named.
	ri, err = e.fs.GetMD(bob, decomposedfs.Reference{SpaceID: e.sid, NodeID: e.stat(t, "/a/b/c").ID, Path: "new"})
	if err != nil || ri.Path != "/a/b/c/new" {
		t.Fatalf("by id: %+v %v", ri, err)
	}
	for _, p := range []string{"/", "/other", "/other/o"} {
		if _, err := e.fs.GetMD(bob, e.ref(p)); !errors.Is(err, decomposedfs.ErrNotFound) {
			t.Errorf("GetMD %s: %v, want ErrNotFound", p, err)
		}
	}
	if _, err := e.fs.Move(bob, e.ref("/a/f"), e.ref("/other/f"), false); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("move out of the grant: %v, want ErrNotFound", err)
	}
	if _, err := e.fs.Copy(bob, e.ref("/other/o"), e.ref("/a/o"), decomposedfs.CopyOptions{}); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("copy into the grant: %v, want ErrNotFound", err)
	}
	// Renaming the granted folder itself needs rights on its parent.
	if _, err := e.fs.Move(bob, e.ref("/a"), e.ref("/a2"), false); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("rename of the granted folder: %v, want ErrNotFound", err)
	}
	// Moving a granted subtree elsewhere (by the owner) takes the access
	// along: the grant is on the node, not on the path.
	e.mkdir(t, "/x")
	if _, err := e.fs.Move(admin, e.ref("/a"), e.ref("/x/a"), false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.GetMD(bob, e.ref("/x/a/b/c/new")); err != nil {
		t.Errorf("after the granted folder moved: %v", err)
	}
	if _, err := e.fs.GetMD(bob, e.ref("/x")); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("the new parent: %v, want ErrNotFound", err)
	}
	// A granted folder in the trash grants nothing; restored, it does again.
	if err := e.fs.Delete(admin, e.ref("/x/a")); err != nil {
		t.Fatal(err)
	}
	items, err := e.fs.ListTrash(admin, e.sid)
	if err != nil || len(items) != 1 {
		t.Fatalf("trash: %+v %v", items, err)
	}
	e.mkdir(t, "/x/a") // the same path, another folder
	if _, err := e.fs.GetMD(bob, e.ref("/x/a")); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("a new folder where the granted one was: %v, want ErrNotFound", err)
	}
	target := e.ref("/restored")
	if _, err := e.fs.RestoreTrash(admin, e.sid, items[0].ID, decomposedfs.RestoreOptions{Target: &target}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.GetMD(bob, e.ref("/restored/b/c/new")); err != nil {
		t.Errorf("restored granted folder: %v", err)
	}
	e.consistent(t)
}

// An expired grant has no effect, including one that expires after its
// effect was cached.
func TestPermissionsExpired(t *testing.T) {
	e := newEnv(t, posixBlobs)
	e.mkdir(t, "/a")
	e.put(t, "/a/f", []byte("f"))
	if _, err := e.fs.AddGrant(admin, e.ref("/a"), decomposedfs.GrantSpec{Grantee: "user:bob", Role: "editor", Expires: time.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.GetMD(as("bob"), e.ref("/a/f")); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Fatalf("an expired grant gave access: %v", err)
	}
	const ttl = 300 * time.Millisecond
	g, err := e.fs.AddGrant(admin, e.ref("/a"), decomposedfs.GrantSpec{Grantee: "user:carol", Role: "viewer", Expires: time.Now().Add(ttl)})
	if err != nil {
		t.Fatal(err)
	}
	// Also through the space root: membership expires too.
	if _, err := e.fs.AddGrant(admin, e.ref("/"), decomposedfs.GrantSpec{Grantee: "user:dave", Role: "viewer", Expires: time.Now().Add(ttl)}); err != nil {
		t.Fatal(err)
	}
	other := reopen(t, e)
	for _, fs := range []*decomposedfs.FS{e.fs, other} {
		if _, err := fs.GetMD(as("carol"), e.ref("/a/f")); err != nil {
			t.Fatalf("before expiry: %v", err)
		}
		if _, err := fs.GetMD(as("dave"), e.ref("/a/f")); err != nil {
			t.Fatalf("member before expiry: %v", err)
		}
		if ss, err := fs.ListSpaces(as("dave"), decomposedfs.SpaceFilter{}); err != nil || len(ss) != 1 {
			t.Fatalf("member's spaces before expiry: %d %v", len(ss), err)
		}
	}
	gs, err := e.fs.Grants(admin, e.sid)
	if err != nil || !slices.ContainsFunc(gs, func(x decomposedfs.GrantInfo) bool { return x.ID == g.ID }) {
		t.Fatalf("grants before expiry: %+v %v", gs, err)
	}
	time.Sleep(ttl + 50*time.Millisecond)
	for i, fs := range []*decomposedfs.FS{e.fs, other} {
		if _, err := fs.GetMD(as("carol"), e.ref("/a/f")); !errors.Is(err, decomposedfs.ErrNotFound) {
			t.Errorf("fs %d: after expiry: %v, want ErrNotFound", i, err)
		}
		if _, err := fs.ListFolder(as("dave"), e.ref("/")); !errors.Is(err, decomposedfs.ErrNotFound) {
			t.Errorf("fs %d: member after expiry: %v, want ErrNotFound", i, err)
		}
		if ss, err := fs.ListSpaces(as("dave"), decomposedfs.SpaceFilter{}); err != nil || len(ss) != 0 {
			t.Errorf("fs %d: member's spaces after expiry: %d %v", i, len(ss), err)
		}
	}
	if gs, err := e.fs.Grants(admin, e.sid); err != nil || len(gs) != 0 {
		t.Errorf("grants after expiry: %+v %v", gs, err)
	}
	e.consistent(t)
}

// A denial wins over any grant, above or below it, and hides what it
// covers.
func TestPermissionsDenied(t *testing.T) {
	e := newEnv(t, posixBlobs)
	for _, d := range []string{"/a", "/a/b", "/a/b/c", "/a/open", "/x", "/x/y"} {
		e.mkdir(t, d)
	}
	e.put(t, "/a/b/c/f", []byte("f"))
	e.put(t, "/a/open/f", []byte("f"))
	e.put(t, "/x/y/f", []byte("f"))
	grant := func(p string, spec decomposedfs.GrantSpec) {
		t.Helper()
		if _, err := e.fs.AddGrant(admin, e.ref(p), spec); err != nil {
			t.Fatal(err)
		}
	}
	grant("/a", decomposedfs.GrantSpec{Grantee: "user:bob", Role: "editor"})
	grant("/a/b", decomposedfs.GrantSpec{Grantee: "user:bob", Role: "viewer", Deny: true})
	bob := as("bob")
	for _, p := range []string{"/a/b", "/a/b/c", "/a/b/c/f"} {
		if _, err := e.fs.GetMD(bob, e.ref(p)); !errors.Is(err, decomposedfs.ErrNotFound) {
			t.Errorf("denied %s: %v, want ErrNotFound", p, err)
		}
	}
	if err := upload(bob, e.fs, e.ref("/a/b/c/new"), "x"); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("upload below a denial: %v, want ErrNotFound", err)
	}
	if err := e.fs.Delete(bob, e.ref("/a/b")); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("delete of a denied folder: %v, want ErrNotFound", err)
	}
	if err := upload(bob, e.fs, e.ref("/a/open/g"), "g"); err != nil {
		t.Errorf("beside the denial: %v", err)
	}
	l, err := e.fs.ListFolder(bob, e.ref("/a"))
	if err != nil {
		t.Fatal(err)
	}
	if names := childNames(l); names != "open" {
		t.Errorf("listing of /a shows %q, want only open", names)
	}
	// A denial above a grant wins too.
	grant("/x", decomposedfs.GrantSpec{Grantee: "user:bob", Role: "editor", Deny: true})
	grant("/x/y", decomposedfs.GrantSpec{Grantee: "user:bob", Role: "manager"})
	if _, err := e.fs.GetMD(bob, e.ref("/x/y/f")); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("grant below a denial: %v, want ErrNotFound", err)
	}
	// Denying a group denies its members, whatever their own grants.
	grant("/a/open", decomposedfs.GrantSpec{Grantee: "group:interns", Role: "manager", Deny: true})
	if _, err := e.fs.GetMD(as("bob", "interns"), e.ref("/a/open/f")); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("group denial: %v, want ErrNotFound", err)
	}
	if _, err := e.fs.GetMD(bob, e.ref("/a/open/f")); err != nil {
		t.Errorf("outside the denied group: %v", err)
	}
	// An expired denial denies nothing.
	grant("/a/open", decomposedfs.GrantSpec{Grantee: "user:bob", Role: "manager", Deny: true, Expires: time.Now().Add(-time.Minute)})
	if _, err := e.fs.GetMD(bob, e.ref("/a/open/f")); err != nil {
		t.Errorf("expired denial: %v", err)
	}
	e.consistent(t)
}

func childNames(l *decomposedfs.Listing) string {
	var names []string
	for _, c := range l.Children {
		names = append(names, c.Name)
	}
	return strings.Join(names, ",")
}

// Grants to a group apply to the users the context says are its members.
func TestPermissionsGroups(t *testing.T) {
	e := newEnv(t, posixBlobs)
	e.mkdir(t, "/team")
	e.put(t, "/team/f", []byte("f"))
	if _, err := e.fs.AddGrant(admin, e.ref("/team"), decomposedfs.GrantSpec{Grantee: "group:staff", Role: "editor"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.AddGrant(admin, e.ref("/team"), decomposedfs.GrantSpec{Grantee: "user:staff", Role: "viewer"}); err != nil {
		t.Fatal(err)
	}
	if err := upload(as("bob", "staff"), e.fs, e.ref("/team/g"), "g"); err != nil {
		t.Errorf("group member: %v", err)
	}
	if err := upload(as("carol", "others", "staff"), e.fs, e.ref("/team/h"), "h"); err != nil {
		t.Errorf("group member among other groups: %v", err)
	}
	if _, err := e.fs.GetMD(as("bob"), e.ref("/team/f")); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("not a member: %v, want ErrNotFound", err)
	}
	// A user named like a group is not its member, and a group named like
	// a user gives that user nothing.
	if err := upload(as("staff"), e.fs, e.ref("/team/i"), "i"); !errors.Is(err, decomposedfs.ErrPermissionDenied) {
		t.Errorf("user named staff: %v, want ErrPermissionDenied (a viewer)", err)
	}
	// The same user, once with and once without the group: both answers
	// are right, whatever was cached first.
	for range 2 {
		if _, err := e.fs.GetMD(as("dave", "staff"), e.ref("/team/f")); err != nil {
			t.Errorf("dave in staff: %v", err)
		}
		if _, err := e.fs.GetMD(as("dave"), e.ref("/team/f")); !errors.Is(err, decomposedfs.ErrNotFound) {
			t.Errorf("dave alone: %v, want ErrNotFound", err)
		}
	}
	e.consistent(t)
}

// Listings leave out the children a user may not see, and report each
// child's own permissions where a grant below the folder changes them.
func TestPermissionsListingHidesChildren(t *testing.T) {
	e := newEnv(t, posixBlobs)
	for _, d := range []string{"/a", "/a/mine", "/a/secret", "/a/plain"} {
		e.mkdir(t, d)
	}
	e.put(t, "/a/f", []byte("f"))
	e.put(t, "/a/secret.txt", []byte("s"))
	for _, g := range []struct {
		p    string
		spec decomposedfs.GrantSpec
	}{
		{"/a", decomposedfs.GrantSpec{Grantee: "user:bob", Role: "viewer"}},
		{"/a/mine", decomposedfs.GrantSpec{Grantee: "user:bob", Role: "editor"}},
		{"/a/secret", decomposedfs.GrantSpec{Grantee: "user:bob", Role: "viewer", Deny: true}},
		{"/a/secret.txt", decomposedfs.GrantSpec{Grantee: "group:staff", Role: "viewer", Deny: true}},
	} {
		if _, err := e.fs.AddGrant(admin, e.ref(g.p), g.spec); err != nil {
			t.Fatal(err)
		}
	}
	l, err := e.fs.ListFolder(as("bob", "staff"), e.ref("/a"))
	if err != nil {
		t.Fatal(err)
	}
	if got := childNames(l); got != "f,mine,plain" {
		t.Fatalf("children %q, want f,mine,plain", got)
	}
	for _, c := range l.Children {
		want := decomposedfs.Roles["viewer"]
		if c.Name == "mine" {
			want = decomposedfs.Roles["editor"]
		}
		if c.Permissions != want {
			t.Errorf("%s: permissions %v, want %v", c.Name, c.Permissions, want)
		}
	}
	// Without the group, secret.txt shows.
	l, err = e.fs.ListFolder(as("bob"), e.ref("/a"))
	if err != nil {
		t.Fatal(err)
	}
	if got := childNames(l); got != "f,mine,plain,secret.txt" {
		t.Errorf("children without the group %q", got)
	}
	// A user with a grant on one child only may not list the folder.
	if _, err := e.fs.AddGrant(admin, e.ref("/a/plain"), decomposedfs.GrantSpec{Grantee: "user:carol", Role: "editor"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.ListFolder(as("carol"), e.ref("/a")); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("carol lists /a: %v, want ErrNotFound", err)
	}
	if _, err := e.fs.ListFolder(as("carol"), e.ref("/a/plain")); err != nil {
		t.Errorf("carol lists her folder: %v", err)
	}
}

// Grants on a space's root make members: ListSpaces shows a space to its
// owner and members (directly or through a group), to nobody else.
func TestSpaceMembership(t *testing.T) {
	e := newEnv(t, posixBlobs)
	mk := func(name string) string {
		si, err := e.fs.CreateSpace(admin, decomposedfs.SpaceSpec{Name: name, Owner: "olga"})
		if err != nil {
			t.Fatal(err)
		}
		return si.ID
	}
	s1, s2, s3 := mk("s1"), mk("s2"), mk("s3")
	grantRoot := func(sid, grantee, role string) string {
		t.Helper()
		g, err := e.fs.AddGrant(admin, decomposedfs.Reference{SpaceID: sid}, decomposedfs.GrantSpec{Grantee: grantee, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		return g.ID
	}
	gBob := grantRoot(s1, "user:bob", "viewer")
	grantRoot(s2, "group:staff", "editor")
	// A grant below the root shares a folder, not the space.
	if _, err := e.fs.CreateDir(admin, decomposedfs.Reference{SpaceID: s3, Path: "/sub"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.AddGrant(admin, decomposedfs.Reference{SpaceID: s3, Path: "/sub"}, decomposedfs.GrantSpec{Grantee: "user:bob", Role: "editor"}); err != nil {
		t.Fatal(err)
	}
	// A denial on the root is no membership.
	grantRoot(s3, "user:carol", "viewer")
	if _, err := e.fs.AddGrant(admin, decomposedfs.Reference{SpaceID: s3}, decomposedfs.GrantSpec{Grantee: "group:staff", Role: "viewer", Deny: true}); err != nil {
		t.Fatal(err)
	}
	names := func(fs *decomposedfs.FS, ctx context.Context) string {
		t.Helper()
		ss, err := fs.ListSpaces(ctx, decomposedfs.SpaceFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range ss {
			out = append(out, s.Name)
		}
		return strings.Join(out, ",")
	}
	other := reopen(t, e) // the indexes are shared by every process
	for i, fs := range []*decomposedfs.FS{e.fs, other} {
		for _, c := range []struct {
			ctx  context.Context
			want string
		}{
			{as("olga"), "s1,s2,s3"},
			{as("alice"), "test"},
			{as("bob"), "s1"},
			{as("bob", "staff"), "s1,s2"},
			{as("carol"), "s3"},
			{as("carol", "staff"), "s2"}, // the denial on s3 hides it
			{as("dave", "staff"), "s2"},
			{as("eve"), ""},
			{admin, "s1,s2,s3,test"},
		} {
			if got := names(fs, c.ctx); got != c.want {
				t.Errorf("fs %d: spaces of %v: %q, want %q", i, decomposedfs.UserOf(c.ctx), got, c.want)
			}
		}
	}
	// Membership ends with its grant, in every process at once.
	if err := other.RemoveGrant(as("olga"), s1, gBob); err != nil {
		t.Fatal(err)
	}
	if got := names(e.fs, as("bob")); got != "" {
		t.Errorf("after the grant was removed: %q", got)
	}
	if _, err := e.fs.GetSpace(as("bob"), s1); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("GetSpace after the grant was removed: %v", err)
	}
	// A disabled space disappears for its members, not for its owner.
	if err := e.fs.DisableSpace(as("olga"), s2); err != nil {
		t.Fatal(err)
	}
	if got := names(other, as("dave", "staff")); got != "" {
		t.Errorf("member of a disabled space sees %q", got)
	}
	if got := names(other, as("olga")); got != "s1,s2,s3" {
		t.Errorf("owner of a disabled space sees %q", got)
	}
	e.consistent(t)
}

// The permission cache never serves an answer that a change of grants, or
// of the paths they apply to, has made wrong: not in the process that made
// the change, not in another one.
func TestPermissionCacheInvalidation(t *testing.T) {
	e := newEnv(t, posixBlobs)
	e.mkdir(t, "/a")
	e.mkdir(t, "/a/sub")
	e.mkdir(t, "/b")
	e.put(t, "/a/f", []byte("f"))
	e.put(t, "/a/sub/s", []byte("s"))
	// Someone's grant, so that permissions are evaluated and cached.
	if _, err := e.fs.AddGrant(admin, e.ref("/b"), decomposedfs.GrantSpec{Grantee: "user:carol", Role: "viewer"}); err != nil {
		t.Fatal(err)
	}
	fs1, fs2 := e.fs, reopen(t, e)
	bob := as("bob")
	expect := func(what string, fs *decomposedfs.FS, p string, want error) {
		t.Helper()
		_, err := fs.GetMD(bob, e.ref(p))
		if (want == nil && err != nil) || (want != nil && !errors.Is(err, want)) {
			t.Errorf("%s: GetMD %s: %v, want %v", what, p, err, want)
		}
	}
	both := func(what, p string, want error) {
		t.Helper()
		expect(what+" (fs1)", fs1, p, want)
		expect(what+" (fs2)", fs2, p, want)
	}
	both("no grant", "/a/f", decomposedfs.ErrNotFound)
	g, err := fs1.AddGrant(admin, e.ref("/a"), decomposedfs.GrantSpec{Grantee: "user:bob", Role: "viewer"})
	if err != nil {
		t.Fatal(err)
	}
	both("grant added", "/a/f", nil)
	if err := upload(bob, fs2, e.ref("/a/new"), "x"); !errors.Is(err, decomposedfs.ErrPermissionDenied) {
		t.Errorf("viewer uploads: %v", err)
	}
	if err := fs2.RemoveGrant(admin, e.sid, g.ID); err != nil {
		t.Fatal(err)
	}
	both("grant removed", "/a/f", decomposedfs.ErrNotFound)
	g, err = fs2.AddGrant(admin, e.ref("/a"), decomposedfs.GrantSpec{Grantee: "user:bob", Role: "editor"})
	if err != nil {
		t.Fatal(err)
	}
	if err := upload(bob, fs1, e.ref("/a/new"), "x"); err != nil {
		t.Errorf("editor uploads: %v", err)
	}
	if err := fs1.RemoveGrant(admin, e.sid, g.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := fs1.AddGrant(admin, e.ref("/a"), decomposedfs.GrantSpec{Grantee: "user:bob", Role: "viewer"}); err != nil {
		t.Fatal(err)
	}
	if err := upload(bob, fs2, e.ref("/a/new"), "y"); !errors.Is(err, decomposedfs.ErrPermissionDenied) {
		t.Errorf("demoted to viewer, uploads: %v, want ErrPermissionDenied", err)
	}

	// Paths change under cached answers. A granted file renamed, and a new
	// file where it was: the grant went with the old one.
	if _, err := fs1.AddGrant(admin, e.ref("/b"), decomposedfs.GrantSpec{Grantee: "user:dave", Role: "viewer"}); err != nil {
		t.Fatal(err)
	}
	e.put(t, "/b/file", []byte("shared"))
	dave := as("dave")
	e.mkdir(t, "/c")
	e.put(t, "/c/file", []byte("shared with dave"))
	e.mkdir(t, "/c/dir")
	for _, p := range []string{"/c/file", "/c/dir"} {
		if _, err := fs1.AddGrant(admin, e.ref(p), decomposedfs.GrantSpec{Grantee: "user:erin", Role: "viewer"}); err != nil {
			t.Fatal(err)
		}
	}
	erin := as("erin")
	for _, fs := range []*decomposedfs.FS{fs1, fs2} {
		for _, p := range []string{"/c/file", "/c/dir"} {
			if _, err := fs.GetMD(erin, e.ref(p)); err != nil {
				t.Fatalf("erin %s: %v", p, err)
			}
		}
		if _, err := fs.GetMD(dave, e.ref("/b/file")); err != nil {
			t.Fatal(err)
		}
	}
	// One at a time: a folder rename changes every path, a file rename
	// only the file's.
	if _, err := fs2.Move(admin, e.ref("/c/file"), e.ref("/c/file.old"), false); err != nil {
		t.Fatal(err)
	}
	if err := upload(admin, fs2, e.ref("/c/file"), "not for erin"); err != nil {
		t.Fatal(err)
	}
	for i, fs := range []*decomposedfs.FS{fs1, fs2} {
		if _, err := fs.GetMD(erin, e.ref("/c/file")); !errors.Is(err, decomposedfs.ErrNotFound) {
			t.Errorf("fs%d: erin sees the new /c/file where her granted one was: %v", i+1, err)
		}
	}
	if _, err := fs2.Move(admin, e.ref("/c/dir"), e.ref("/c/dir.old"), false); err != nil {
		t.Fatal(err)
	}
	if _, err := fs2.CreateDir(admin, e.ref("/c/dir")); err != nil {
		t.Fatal(err)
	}
	for i, fs := range []*decomposedfs.FS{fs1, fs2} {
		for _, p := range []string{"/c/file", "/c/dir"} {
			if _, err := fs.GetMD(erin, e.ref(p)); !errors.Is(err, decomposedfs.ErrNotFound) {
				t.Errorf("fs%d: erin sees the new %s where her granted one was: %v", i+1, p, err)
			}
			if _, err := fs.GetMD(erin, e.ref(p+".old")); err != nil {
				t.Errorf("fs%d: erin's granted %s.old: %v", i+1, p, err)
			}
		}
	}
	// A granted file deleted, and a new one in its place.
	if err := fs1.Delete(admin, e.ref("/c/file.old")); err != nil {
		t.Fatal(err)
	}
	if err := upload(admin, fs1, e.ref("/c/file.old"), "not for erin either"); err != nil {
		t.Fatal(err)
	}
	for i, fs := range []*decomposedfs.FS{fs1, fs2} {
		if _, err := fs.GetMD(erin, e.ref("/c/file.old")); !errors.Is(err, decomposedfs.ErrNotFound) {
			t.Errorf("fs%d: erin sees a new file where her deleted one was: %v", i+1, err)
		}
	}
	if _, err := fs2.GetMD(dave, e.ref("/b/file")); err != nil {
		t.Errorf("dave, untouched: %v", err)
	}
	e.consistent(t)
}

// A copy reads what it copies: a user who may not download may not copy,
// and what a denial hides from a user stays behind when he copies the
// folder around it, also into a space of his own.
func TestPermissionsCopy(t *testing.T) {
	e := newEnv(t, posixBlobs)
	e.mkdir(t, "/a")
	e.mkdir(t, "/a/secret")
	e.mkdir(t, "/a/open")
	e.put(t, "/a/secret/s", []byte("secret"))
	e.put(t, "/a/secret.txt", []byte("secret"))
	e.put(t, "/a/open/o", []byte("open"))
	e.put(t, "/a/f", []byte("f"))
	for _, g := range []struct {
		p    string
		spec decomposedfs.GrantSpec
	}{
		{"/a", decomposedfs.GrantSpec{Grantee: "user:bob", Role: "viewer"}},
		{"/a", decomposedfs.GrantSpec{Grantee: "user:uma", Role: "uploader"}},
		{"/a/secret", decomposedfs.GrantSpec{Grantee: "user:bob", Role: "viewer", Deny: true}},
		{"/a/secret.txt", decomposedfs.GrantSpec{Grantee: "user:bob", Role: "viewer", Deny: true}},
	} {
		if _, err := e.fs.AddGrant(admin, e.ref(g.p), g.spec); err != nil {
			t.Fatal(err)
		}
	}
	mine := func(user string) decomposedfs.Reference {
		t.Helper()
		si, err := e.fs.CreateSpace(admin, decomposedfs.SpaceSpec{Name: user, Owner: user})
		if err != nil {
			t.Fatal(err)
		}
		return decomposedfs.Reference{SpaceID: si.ID, Path: "/copy"}
	}
	if _, err := e.fs.Copy(as("uma"), e.ref("/a"), mine("uma"), decomposedfs.CopyOptions{}); !errors.Is(err, decomposedfs.ErrPermissionDenied) {
		t.Errorf("an uploader copies a folder out: %v, want ErrPermissionDenied", err)
	}
	dst := mine("bob")
	ri, err := e.fs.Copy(as("bob"), e.ref("/a"), dst, decomposedfs.CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ri.Size != int64(len("open")+len("f")) {
		t.Errorf("copy of %d bytes, want %d", ri.Size, len("open")+len("f"))
	}
	l, err := e.fs.ListFolder(as("bob"), dst)
	if err != nil {
		t.Fatal(err)
	}
	if got := childNames(l); got != "f,open" {
		t.Errorf("bob's copy holds %q, want f,open", got)
	}
	e.consistent(t)
}

// Content reached through a grant is the owner's content: a user with the
// right role reads and writes exactly what the owner sees.
func TestPermissionsSharedContent(t *testing.T) {
	e := newEnv(t, posixBlobs)
	e.mkdir(t, "/share")
	if _, err := e.fs.AddGrant(admin, e.ref("/share"), decomposedfs.GrantSpec{Grantee: "user:bob", Role: "editor"}); err != nil {
		t.Fatal(err)
	}
	data := payload(5, 10_000)
	if _, err := e.fs.Upload(as("bob"), e.ref("/share/f"), bytes.NewReader(data), decomposedfs.UploadOptions{Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.get(t, "/share/f"), data) {
		t.Fatal("the owner reads other content")
	}
	if e.stat(t, "/").Size != int64(len(data)) {
		t.Fatal("tree size")
	}
	e.consistent(t)
}

// A resumable upload is a user's: others do not find it, and the user's
// permissions are checked again when it finishes.
func TestPermissionsResumableUpload(t *testing.T) {
	e := newEnv(t, posixBlobs)
	e.mkdir(t, "/a")
	g, err := e.fs.AddGrant(admin, e.ref("/a"), decomposedfs.GrantSpec{Grantee: "user:bob", Role: "editor"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.AddGrant(admin, e.ref("/a"), decomposedfs.GrantSpec{Grantee: "user:carol", Role: "editor"}); err != nil {
		t.Fatal(err)
	}
	bob, carol := as("bob"), as("carol")
	s, err := e.fs.InitiateUpload(bob, decomposedfs.UploadSpec{Ref: e.ref("/a/f"), Size: 3, User: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.WriteUpload(carol, s.ID, 0, strings.NewReader("abc"), nil); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("another user writes: %v, want ErrNotFound", err)
	}
	if _, err := e.fs.GetUpload(carol, s.ID); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("another user looks: %v, want ErrNotFound", err)
	}
	if _, err := e.fs.WriteUpload(bob, s.ID, 0, strings.NewReader("abc"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.FinishUpload(carol, s.ID); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("another user finishes: %v, want ErrNotFound", err)
	}
	if err := e.fs.AbortUpload(carol, s.ID); err != nil {
		t.Errorf("another user aborts: %v, want nothing to happen", err)
	}
	if err := e.fs.RemoveGrant(admin, e.sid, g.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.FinishUpload(bob, s.ID); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("finish after the grant went: %v, want ErrNotFound", err)
	}
	if _, err := e.fs.GetMD(admin, e.ref("/a/f")); !errors.Is(err, decomposedfs.ErrNotFound) {
		t.Errorf("the upload was stored: %v", err)
	}
	e.consistent(t)
	if err := e.fs.AbortUpload(bob, s.ID); err != nil {
		t.Fatal(err)
	}
	e.consistent(t)
}
