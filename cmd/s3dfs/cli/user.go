package cli

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/s3dfs/s3dfs/server/auth"
	"github.com/s3dfs/s3dfs/storeid"
)

// userConfig locates the users file of `s3dfs user`.
type userConfig struct {
	root  string
	users string
	// cost is the bcrypt cost of new passwords (0: the default); tests
	// lower it.
	cost int
	// groups are the groups of user add.
	groups []string
	// init lets user add start the users file of a root that holds no
	// store yet (s3dfs init or serve --init makes the store later).
	init bool
}

func (a *app) userCommand() *cobra.Command {
	c := &userConfig{}
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage the users of s3dfs serve",
		Long: `Manage the users file of 's3dfs serve': --users FILE, or <root>/users.json
with --root (S3DFS_USERS, S3DFS_ROOT). A running server picks up changes within
a second. Passwords are read from stdin, one line, so that they stay out of
process listings and shell history:

  printf '%s\n' "$PASSWORD" | s3dfs user add --root DIR alice

With --root, DIR must hold a store ('s3dfs init') or a users file already;
'user add --init' starts the users file of a missing or empty DIR, for a
store that 's3dfs serve --init' creates there later.`,
		Args: cobra.ArbitraryArgs,
		RunE: missingCommand,

		SuggestionsMinimumDistance: 2,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&c.root, "root", "", "metadata `DIR`, whose users.json is the users file")
	pf.StringVar(&c.users, "users", "", "users `FILE` (default <root>/users.json)")
	add := &cobra.Command{
		Use:   "add [--groups A,B] NAME",
		Short: "Add a user; the password is read from stdin",
		Args:  args(1, 1),
		RunE: run(func(cmd *cobra.Command, args []string) error {
			return a.updateUsers(cmd, c, func(u *auth.Users) error {
				pw, err := a.readPassword()
				if err != nil {
					return err
				}
				if err := u.Add(args[0], pw, c.cost); err != nil {
					return err
				}
				return u.SetGroups(args[0], c.groups)
			})
		}),
	}
	add.Flags().StringSliceVar(&c.groups, "groups", nil, "the user's `GROUPS`, comma-separated")
	add.Flags().BoolVar(&c.init, "init", false, "with --root: start the users file even if DIR holds no store yet")
	cmd.AddCommand(
		add,
		&cobra.Command{
			Use:   "groups NAME [GROUPS]",
			Short: "Show a user's groups, or set them (comma-separated; \"\" for none)",
			Long: `Without GROUPS, print the user's groups, one per line. With GROUPS
(comma-separated), make them the user's groups; "" removes the user from all.
Grants to group:NAME apply to the group's members; a running server picks up
a change within a second.`,
			Args: args(1, 2),
			RunE: run(func(cmd *cobra.Command, args []string) error {
				if len(args) == 2 {
					var groups []string
					for g := range strings.SplitSeq(args[1], ",") {
						if g = strings.TrimSpace(g); g != "" {
							groups = append(groups, g)
						}
					}
					return a.updateUsers(cmd, c, func(u *auth.Users) error { return u.SetGroups(args[0], groups) })
				}
				f, err := c.file(cmd)
				if err != nil {
					return err
				}
				u, err := f.Load()
				if err != nil {
					return err
				}
				if _, ok := u.Users[args[0]]; !ok {
					return fmt.Errorf("%w: %s", auth.ErrNoUser, args[0])
				}
				for _, g := range u.Groups(args[0]) {
					fmt.Fprintln(a.stdout, g)
				}
				return nil
			}),
		},
		&cobra.Command{
			Use:   "passwd NAME",
			Short: "Change a user's password; the new one is read from stdin",
			Args:  args(1, 1),
			RunE: run(func(cmd *cobra.Command, args []string) error {
				return a.updateUsers(cmd, c, func(u *auth.Users) error {
					pw, err := a.readPassword()
					if err != nil {
						return err
					}
					return u.SetPassword(args[0], pw, c.cost)
				})
			}),
		},
		&cobra.Command{
			Use:     "del NAME",
			Aliases: []string{"rm", "delete"},
			Short:   "Remove a user and the user's app tokens (the user's spaces stay)",
			Args:    args(1, 1),
			RunE: run(func(cmd *cobra.Command, args []string) error {
				return a.updateUsers(cmd, c, func(u *auth.Users) error { return u.Delete(args[0]) })
			}),
		},
		&cobra.Command{
			Use:     "list",
			Aliases: []string{"ls"},
			Short:   "List the users: name, then the ids of their app tokens",
			Args:    args(0, 0),
			RunE: run(func(cmd *cobra.Command, _ []string) error {
				f, err := c.file(cmd)
				if err != nil {
					return err
				}
				u, err := f.Load()
				if err != nil {
					return err
				}
				for _, name := range u.Names() {
					var ids []string
					for _, t := range u.Users[name].Tokens {
						ids = append(ids, t.ID)
					}
					fmt.Fprintln(a.stdout, strings.TrimSpace(name+" "+strings.Join(ids, " ")))
				}
				return nil
			}),
		},
		&cobra.Command{
			Use:   "token NAME",
			Short: "Create an app token for a user and print it (it is shown only once)",
			Long: `Create an app token for a user and print it. Only its hash is stored, so it
is shown only once. Use it as "Authorization: Bearer TOKEN", or as the
password of HTTP Basic (as ownCloud app passwords).`,
			Args: args(1, 1),
			RunE: run(func(cmd *cobra.Command, args []string) error {
				var tok string
				err := a.updateUsers(cmd, c, func(u *auth.Users) error {
					var err error
					tok, err = u.NewToken(args[0], time.Now())
					return err
				})
				if err == nil {
					fmt.Fprintln(a.stdout, tok)
				}
				return err
			}),
		},
		&cobra.Command{
			Use:   "revoke NAME TOKEN-ID",
			Short: "Revoke one of a user's app tokens (ids as 'user list' shows them)",
			Args:  args(2, 2),
			RunE: run(func(cmd *cobra.Command, args []string) error {
				return a.updateUsers(cmd, c, func(u *auth.Users) error { return u.RevokeToken(args[0], args[1]) })
			}),
		},
	)
	return cmd
}

// file resolves the users file from --users, --root and their variables.
func (c *userConfig) file(cmd *cobra.Command) (*auth.File, error) {
	users, root := c.users, c.root
	if f := cmd.Flags().Lookup("users"); f == nil || !f.Changed {
		if v := os.Getenv(envVar("users")); v != "" {
			users = v
		}
	}
	if f := cmd.Flags().Lookup("root"); f == nil || !f.Changed {
		if v := os.Getenv(envVar("root")); v != "" {
			root = v
		}
	}
	switch {
	case users != "":
		return auth.NewFile(users), nil
	case root != "":
		path := filepath.Join(root, "users.json")
		if _, err := os.Stat(path); err == nil {
			return auth.NewFile(path), nil
		}
		state, _, err := storeid.Inspect(root)
		if err != nil {
			return nil, err
		}
		switch {
		case state == storeid.Present || state == storeid.Legacy:
		case c.init && (state == storeid.Missing || state == storeid.Empty):
		default:
			return nil, fmt.Errorf("no s3dfs store at %s: create one with 's3dfs init --root %s' first (or 'user add --init' for a store that 's3dfs serve --init' creates)", root, root)
		}
		return auth.NewFile(path), nil
	}
	return nil, usageErrorf("--users or --root is required (or set %s or %s)", envVar("users"), envVar("root"))
}

func (a *app) updateUsers(cmd *cobra.Command, c *userConfig, fn func(*auth.Users) error) error {
	f, err := c.file(cmd)
	if err != nil {
		return err
	}
	if err := f.Update(fn); err != nil {
		return userError(err)
	}
	return nil
}

// readPassword reads one line from stdin.
func (a *app) readPassword() (string, error) {
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", usageErrorf("no password on stdin (one line)")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// userError makes the users file's errors read well.
func userError(err error) error {
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return err
	case errors.Is(err, auth.ErrInvalidUser), errors.Is(err, auth.ErrInvalidPassword), errors.Is(err, auth.ErrInvalidGroup):
		return usageError(err)
	}
	return err
}
