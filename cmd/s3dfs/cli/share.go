package cli

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/server/auth"
)

func (a *app) shareCommand() *cobra.Command {
	c := &adminConfig{}
	cmd := a.adminCommand("share", "Grant, list and revoke access to files and folders", `Grant, list and revoke access to the files and folders of a space (--space).
A grant gives a user or a group a role on a file or folder and everything
below it; a grant on the space root makes the grantee a member of the space.
A denying grant (--deny) takes the role's permissions away instead, and wins
over any grant. Roles:

  viewer    see, list, download, list versions
  uploader  see, list, create files and folders (no download, no overwrite)
  editor    viewer and uploader, plus overwrite, delete, move, restore
            versions, list and restore the trash, lock
  manager   everything an owner may do: also share, purge the trash and
            manage the space`, true, c)
	cmd.AddCommand(a.shareAddCommand(c), a.shareListCommand(c), a.shareRemoveCommand(c))
	return cmd
}

// jsonGrant is the JSON form of a grant (share list --json, share add
// --json). Its field names are an interface: add fields, never rename.
type jsonGrant struct {
	ID      string     `json:"id"`
	NodeID  string     `json:"nodeId"`
	Path    string     `json:"path,omitempty"` // absent for a node in the trash
	Grantee string     `json:"grantee"`
	Role    string     `json:"role"`
	Deny    bool       `json:"deny,omitempty"`
	Expires *time.Time `json:"expires,omitempty"`
	Creator string     `json:"creator,omitempty"`
	Created time.Time  `json:"created"`
}

func jsonGrantOf(g decomposedfs.GrantInfo) jsonGrant {
	j := jsonGrant{ID: g.ID, NodeID: g.NodeID, Path: g.Path, Grantee: g.Grantee, Role: g.Role, Deny: g.Deny,
		Creator: g.Creator, Created: g.Created.UTC()}
	if !g.Expires.IsZero() {
		e := g.Expires.UTC()
		j.Expires = &e
	}
	return j
}

func roleNames() []string {
	var out []string
	for r := range decomposedfs.Roles {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

func (a *app) shareAddCommand(c *adminConfig) *cobra.Command {
	var to, role, expires string
	var deny, asJSON bool
	cmd := &cobra.Command{
		Use:   "add PATH --to user:NAME|group:NAME --role ROLE [--deny] [--expires TIME]",
		Short: "Give a user or group a role on a file or folder; print the grant's id",
		Args:  args(1, 1),
		RunE: run(func(cmd *cobra.Command, argv []string) error {
			spec := decomposedfs.GrantSpec{Grantee: to, Role: role, Deny: deny}
			kind, name, _ := strings.Cut(to, ":")
			if (kind != "user" && kind != "group") || auth.ValidateName(name) != nil {
				return usageErrorf("--to %q: want user:NAME or group:NAME", to)
			}
			if _, ok := decomposedfs.Roles[role]; !ok {
				return usageErrorf("--role %q: want one of %s", role, strings.Join(roleNames(), ", "))
			}
			if expires != "" {
				t, err := time.Parse(time.RFC3339, expires)
				if err != nil {
					return usageErrorf("--expires %q is not an RFC 3339 time like 2006-01-02T15:04:05Z", expires)
				}
				spec.Expires = t
			}
			p, err := spacePath(argv[0])
			if err != nil {
				return opError("share add", showPath(argv[0]), err)
			}
			s, err := a.openAdmin(cmd, c, true)
			if err != nil {
				return err
			}
			defer s.Close()
			g, err := s.fs.AddGrant(s.ctx, s.ref(p), spec)
			if err != nil {
				return opError("share add", showPath(p), err)
			}
			if asJSON {
				return json.NewEncoder(a.stdout).Encode(jsonGrantOf(*g))
			}
			_, err = fmt.Fprintln(a.stdout, g.ID)
			return err
		}),
	}
	f := cmd.Flags()
	f.StringVar(&to, "to", "", "the `GRANTEE`: user:NAME or group:NAME (required)")
	f.StringVar(&role, "role", "", "the `ROLE`: "+strings.Join(roleNames(), ", ")+" (required)")
	f.BoolVar(&deny, "deny", false, "take the role's permissions away instead")
	f.StringVar(&expires, "expires", "", "end the grant at `TIME` (RFC 3339)")
	f.BoolVar(&asJSON, "json", false, "print the grant as a JSON object")
	cmd.MarkFlagRequired("to")
	cmd.MarkFlagRequired("role")
	return cmd
}

func (a *app) shareListCommand(c *adminConfig) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list [PATH]",
		Aliases: []string{"ls"},
		Short:   "List the grants of a space, or those on PATH and below it",
		Long: `List the unexpired grants of the space, or those on PATH and below it: id,
path ("-" for a node in the trash), grantee, role, and "deny" and
"expires=TIME" where they apply; or one JSON object per line with --json.
As --as USER, only grants on what the user may see are listed.`,
		Args: args(0, 1),
		RunE: run(func(cmd *cobra.Command, argv []string) error {
			below := ""
			if len(argv) == 1 {
				p, err := spacePath(argv[0])
				if err != nil {
					return opError("share list", showPath(argv[0]), err)
				}
				below = p
			}
			s, err := a.openAdmin(cmd, c, true)
			if err != nil {
				return err
			}
			defer s.Close()
			grants, err := s.fs.Grants(s.ctx, s.sid)
			if err != nil {
				return opError("share list", s.sid, err)
			}
			enc := json.NewEncoder(a.stdout)
			for _, g := range grants {
				if below != "" && !pathUnder(g.Path, below) {
					continue
				}
				if asJSON {
					err = enc.Encode(jsonGrantOf(g))
				} else {
					_, err = fmt.Fprintf(a.stdout, "%s %s %s\n", g.ID, showPath(orDash(g.Path)), grantText(g))
				}
				if err != nil {
					return err
				}
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line")
	return cmd
}

// pathUnder reports whether space path p is q or below it.
func pathUnder(p, q string) bool {
	return p != "" && (q == "/" || p == q || strings.HasPrefix(p, q+"/"))
}

func (a *app) shareRemoveCommand(c *adminConfig) *cobra.Command {
	return &cobra.Command{
		Use:     "remove ID...",
		Aliases: []string{"rm"},
		Short:   "Revoke grants by id",
		Args:    args(1, -1),
		RunE: run(func(cmd *cobra.Command, ids []string) error {
			s, err := a.openAdmin(cmd, c, true)
			if err != nil {
				return err
			}
			defer s.Close()
			return a.each(ids, func(id string) error {
				if err := s.fs.RemoveGrant(s.ctx, s.sid, id); err != nil {
					return opError("share remove", showPath(id), err)
				}
				return nil
			})
		}),
	}
}
