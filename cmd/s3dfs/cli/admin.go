package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/metadata"
	"github.com/s3dfs/s3dfs/server/auth"
)

// The admin commands (space, trash, versions, share) work on a root like
// the fs commands, as an administrator: the driver's context names no
// user, so every permission holds. With --as USER a command acts as that
// user instead, with the user's groups from the users file, and the
// driver answers as it would answer the user over WebDAV.

// adminConfig holds the flags the admin commands share besides the store
// flags.
type adminConfig struct {
	as    string
	users string
}

const adminHelp = `Commands are quiet on success unless they print what was asked for (an id, a
listing); errors go to stderr as one line, and the exit status is 0 on
success, 1 if the operation failed, 2 for a wrong command line. --json makes
listings print one JSON object per line.

Without --as, a command acts as an administrator, who may do anything. With
--as USER it acts as that user, with the groups the users file (--users, or
<root>/users.json) gives the user, and is refused what the user would be.

`

// adminCommand makes the group command of an admin area with the store
// flags and --as. spaceFlag says whether its commands use --space.
func (a *app) adminCommand(use, short, long string, spaceFlag bool, c *adminConfig) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long + "\n\n" + adminHelp + envHelp,
		Args:  cobra.ArbitraryArgs,
		RunE:  missingCommand,

		SuggestionsMinimumDistance: 2,
	}
	pf := cmd.PersistentFlags()
	a.store.addFlags(pf)
	a.store.cacheBytes = 4 << 20
	if spaceFlag {
		pf.Lookup("space").Usage = "the space: an id, or a name (that of a space made by 's3dfs fs --space NAME', else the one space with that name)"
	} else {
		pf.MarkHidden("space")
	}
	pf.StringVar(&c.as, "as", "", "act as `USER` (default: as an administrator)")
	pf.StringVar(&c.users, "users", "", "users `FILE` for the groups of --as (default <root>/users.json)")
	return cmd
}

// adminSession is an open FS for an admin command, and the context its
// operations run with.
type adminSession struct {
	*storage
	ctx context.Context
	// admin is the administrator's context, for finding spaces by name:
	// --as checks what a user may do, not which spaces exist.
	admin context.Context
	sid   string // the --space, for commands that use it
}

// openAdmin opens the stores and builds the context: the administrator's,
// or --as's. withSpace resolves --space too.
func (a *app) openAdmin(cmd *cobra.Command, c *adminConfig, withSpace bool) (*adminSession, error) {
	st, err := a.store.open(cmd.Context(), cmd.Flags(), a.log)
	if err != nil {
		return nil, err
	}
	s := &adminSession{storage: st, ctx: cmd.Context(), admin: cmd.Context()}
	if c.as != "" {
		groups, err := c.groupsOf(cmd.Flags(), a.store.root)
		if err != nil {
			st.Close()
			return nil, err
		}
		s.ctx = decomposedfs.WithUser(s.ctx, c.as, groups...)
	}
	if withSpace {
		if s.sid, err = resolveSpace(s.admin, st.fs, a.store.space); err != nil {
			st.Close()
			return nil, err
		}
	}
	return s, nil
}

func (s *adminSession) ref(p string) decomposedfs.Reference {
	return decomposedfs.Reference{SpaceID: s.sid, Path: p}
}

// groupsOf reads the groups of the --as user from the users file; a user
// the file does not list (or a missing file: users managed elsewhere) has
// none.
func (c *adminConfig) groupsOf(flags *pflag.FlagSet, root string) ([]string, error) {
	if err := auth.ValidateName(c.as); err != nil {
		return nil, usageErrorf("--as: %v", err)
	}
	path := c.users
	if f := flags.Lookup("users"); (f == nil || !f.Changed) && os.Getenv(envVar("users")) != "" {
		path = os.Getenv(envVar("users"))
	}
	if path == "" {
		path = filepath.Join(root, "users.json")
	}
	u, err := auth.NewFile(path).Load()
	if err != nil {
		return nil, err
	}
	return u.Groups(c.as), nil
}

// resolveSpace finds a space by id or name without creating one: an id
// must name an existing space; a name is first that of a space made by
// the fs commands' --space NAME (whose id derives from the name), else it
// must be the name of exactly one space.
func resolveSpace(ctx context.Context, fs *decomposedfs.FS, spec string) (string, error) {
	if spec == "" {
		return "", usageErrorf("--space must not be empty")
	}
	if id := strings.ToLower(spec); metadata.ValidateID(id) == nil {
		if _, err := fs.GetSpace(ctx, id); err != nil {
			return "", opError("space", id, err)
		}
		return id, nil
	}
	if si, err := fs.GetSpace(ctx, decomposedfs.NamedSpaceID(spec)); err == nil {
		return si.ID, nil
	} else if !errors.Is(err, decomposedfs.ErrNotFound) {
		return "", opError("space", showPath(spec), err)
	}
	spaces, err := fs.ListSpaces(ctx, decomposedfs.SpaceFilter{Name: spec})
	if err != nil {
		return "", opError("space", showPath(spec), err)
	}
	switch len(spaces) {
	case 0:
		return "", opError("space", showPath(spec), decomposedfs.ErrNotFound)
	case 1:
		return spaces[0].ID, nil
	}
	return "", &exitError{code: ExitFailure, err: fmt.Errorf("space %s: %d spaces have that name; use an id", showPath(spec), len(spaces))}
}
