package cli

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/metadata"
)

func (a *app) fsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fs",
		Short: "Work with the files and folders of a space",
		Long: `Work with the files and folders of a space of a store that 's3dfs init'
made (every command refuses a missing root, and a blob store other than the
store's).

--space picks the space: an id, or a name, which is (in this order) the
project space that fs commands made with that name, the personal space of
the user of that name (/dav/files/NAME/ of s3dfs serve), or the one space
that has that name; if the first two both exist, use an id. Without
--space, the project space "default". Only mkdir and put create a space: a
name that resolves to nothing becomes a project space of that name; every
other command fails on it and creates nothing.

Paths are paths inside the space, like /a/b (the leading slash is optional).
Commands are quiet on success; errors go to stderr as one line, and the exit
status is 0 on success, 1 if the operation failed, 2 for a wrong command line.

` + envHelp,
		Args: cobra.ArbitraryArgs,
		RunE: missingCommand,

		SuggestionsMinimumDistance: 2,
	}
	a.store.addFlags(cmd.PersistentFlags())
	a.store.cacheBytes = 4 << 20
	cmd.AddCommand(
		a.mkdirCommand(), a.putCommand(), a.getCommand(), a.lsCommand(),
		a.statCommand(), a.mvCommand(), a.rmCommand(), a.spacesCommand(),
	)
	return cmd
}

// session is an open FS and the space a command works in.
type session struct {
	*storage
	sid string
}

// openSpace opens the stores and resolves --space; create lets a write
// create the project space it names. The caller closes the session.
func (a *app) openSpace(cmd *cobra.Command, create bool) (*session, error) {
	st, err := a.store.open(cmd.Context(), cmd.Flags(), a.log)
	if err != nil {
		return nil, err
	}
	sid, err := a.store.spaceID(cmd.Context(), st, create)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &session{storage: st, sid: sid}, nil
}

func (s *session) ref(p string) decomposedfs.Reference {
	return decomposedfs.Reference{SpaceID: s.sid, Path: p}
}

// spacePath cleans a path argument into a space path ("/a/b", "/" for the
// root), validating every name on the way so that a bad name is reported
// as such rather than as a lookup failure.
func spacePath(arg string) (string, error) {
	var segs []string
	for seg := range strings.SplitSeq(arg, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(segs) == 0 {
				return "", fmt.Errorf("%w: climbs above the root", decomposedfs.ErrInvalidRef)
			}
			segs = segs[:len(segs)-1]
		default:
			if err := metadata.ValidateName(seg); err != nil {
				return "", err
			}
			segs = append(segs, seg)
		}
	}
	return "/" + strings.Join(segs, "/"), nil
}

// targetPath is spacePath for a destination: one ending in "/" names a
// folder, and the result is the child called name in it (as in cp and mv).
func targetPath(arg, name string) (string, error) {
	if strings.HasSuffix(arg, "/") {
		arg += name
	}
	return spacePath(arg)
}

// showPath quotes a path for a message if it would garble the line.
func showPath(p string) string {
	if strings.IndexFunc(p, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) >= 0 {
		return strconv.Quote(p)
	}
	return p
}

// each runs fn for every argument, reports each failure on its own line and
// goes on, like rm and mkdir do; the command fails if any did.
func (a *app) each(items []string, fn func(string) error) error {
	failed := false
	for _, it := range items {
		if err := fn(it); err != nil {
			if errors.Is(err, context.Canceled) {
				return err
			}
			fmt.Fprintf(a.stderr, "s3dfs: %s\n", oneLine(err.Error()))
			failed = true
		}
	}
	if failed {
		return &exitError{code: ExitFailure, err: errReported}
	}
	return nil
}

func (a *app) mkdirCommand() *cobra.Command {
	var parents, verbose bool
	cmd := &cobra.Command{
		Use:   "mkdir [-p] PATH...",
		Short: "Create folders",
		Long: `Create folders. The parent must exist, unless -p is given, which also
creates missing parents and accepts folders that exist already.`,
		Args: args(1, -1),
		RunE: run(func(cmd *cobra.Command, paths []string) error {
			s, err := a.openSpace(cmd, true)
			if err != nil {
				return err
			}
			defer s.Close()
			ctx := cmd.Context()
			return a.each(paths, func(arg string) error {
				p, err := spacePath(arg)
				if err != nil {
					return opError("mkdir", showPath(arg), err)
				}
				mk := s.mkdir
				if parents {
					mk = s.mkdirAll
				}
				created, err := mk(ctx, p)
				if err != nil {
					return opError("mkdir", showPath(p), err)
				}
				if verbose {
					for _, c := range created {
						fmt.Fprintln(a.stdout, showPath(c))
					}
				}
				return nil
			})
		}),
	}
	cmd.Flags().BoolVarP(&parents, "parents", "p", false, "create missing parents; no error if the folder exists")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print each folder created")
	return cmd
}

// mkdir creates one folder and returns its path.
func (s *session) mkdir(ctx context.Context, p string) ([]string, error) {
	if p == "/" {
		return nil, decomposedfs.ErrExist
	}
	if _, err := s.fs.CreateDir(ctx, s.ref(p)); err != nil {
		return nil, err
	}
	return []string{p}, nil
}

// mkdirAll creates p and its missing parents and returns the paths it
// created. A folder that appears meanwhile (another process) is fine.
func (s *session) mkdirAll(ctx context.Context, p string) ([]string, error) {
	if ri, err := s.fs.GetMD(ctx, s.ref(p)); err == nil {
		if !ri.IsDir() {
			return nil, decomposedfs.ErrNotDir
		}
		return nil, nil
	}
	var created []string
	cur := "/"
	for seg := range strings.SplitSeq(strings.TrimPrefix(p, "/"), "/") {
		cur = path.Join(cur, seg)
		ri, err := s.fs.GetMD(ctx, s.ref(cur))
		if errors.Is(err, decomposedfs.ErrNotFound) {
			ri, err = s.fs.CreateDir(ctx, s.ref(cur))
			if err == nil {
				created = append(created, cur)
				continue
			}
			if errors.Is(err, decomposedfs.ErrExist) {
				ri, err = s.fs.GetMD(ctx, s.ref(cur))
			}
		}
		if err != nil {
			return created, err
		}
		if !ri.IsDir() {
			return created, fmt.Errorf("%w: %s", decomposedfs.ErrNotDir, cur)
		}
	}
	return created, nil
}

func (a *app) mvCommand() *cobra.Command {
	var overwrite, verbose bool
	cmd := &cobra.Command{
		Use:   "mv [--overwrite] SRC DST",
		Short: "Move or rename a file or folder",
		Long: `Move or rename a file or folder within the space. DST is the new path;
a DST ending in "/" is a folder to move SRC into, keeping its name. If DST
exists, mv fails unless --overwrite is given, which moves what was there to
the trash.`,
		Args: args(2, 2),
		RunE: run(func(cmd *cobra.Command, argv []string) error {
			src, err := spacePath(argv[0])
			if err != nil {
				return opError("mv", showPath(argv[0]), err)
			}
			dst, err := targetPath(argv[1], path.Base(src))
			if err != nil {
				return opError("mv", showPath(argv[1]), err)
			}
			s, err := a.openSpace(cmd, false)
			if err != nil {
				return err
			}
			defer s.Close()
			if _, err := s.fs.Move(cmd.Context(), s.ref(src), s.ref(dst), overwrite); err != nil {
				return opError("mv", showPath(src)+" to "+showPath(dst), err)
			}
			if verbose {
				fmt.Fprintf(a.stdout, "%s -> %s\n", showPath(src), showPath(dst))
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "replace DST if it exists (the old DST goes to the trash)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print what was moved")
	return cmd
}

func (a *app) rmCommand() *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "rm PATH...",
		Short: "Move files and folders to the trash",
		Long: `Remove files and folders: each moves, with everything below it, to the
space's trash in one step.`,
		Args: args(1, -1),
		RunE: run(func(cmd *cobra.Command, paths []string) error {
			s, err := a.openSpace(cmd, false)
			if err != nil {
				return err
			}
			defer s.Close()
			return a.each(paths, func(arg string) error {
				p, err := spacePath(arg)
				if err != nil {
					return opError("rm", showPath(arg), err)
				}
				if err := s.fs.Delete(cmd.Context(), s.ref(p)); err != nil {
					return opError("rm", showPath(p), err)
				}
				if verbose {
					fmt.Fprintln(a.stdout, showPath(p))
				}
				return nil
			})
		}),
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print each path removed")
	return cmd
}
