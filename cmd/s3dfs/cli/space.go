package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/metadata"
)

func (a *app) spaceCommand() *cobra.Command {
	c := &adminConfig{}
	cmd := a.adminCommand("space", "Create, list and administer spaces", `Create, list and administer spaces. SPACE is a space id, or a name: that of a
space made by 's3dfs fs --space NAME', else the name of exactly one space.

A disabled space is hidden from everyone but its managers (over WebDAV: 404)
until it is restored; purge deletes a disabled space for good, with every
blob it has in the blob store.`, false, c)
	cmd.AddCommand(a.spaceCreateCommand(c), a.spaceListCommand(c), a.spaceInfoCommand(c),
		a.spaceUpdateCommand(c, "rename SPACE NAME", "Rename a space", func(u *decomposedfs.SpaceUpdate, v string) { u.Name = &v }),
		a.spaceUpdateCommand(c, "describe SPACE TEXT", "Set a space's description", func(u *decomposedfs.SpaceUpdate, v string) { u.Description = &v }),
		a.spaceQuotaCommand(c),
		a.spaceStateCommand(c, "disable", "Disable a space: hidden from all but its managers, frozen for them", (*decomposedfs.FS).DisableSpace),
		a.spaceStateCommand(c, "restore", "Enable a disabled space again", (*decomposedfs.FS).RestoreSpace),
		a.spaceStateCommand(c, "purge", "Delete a disabled space for good, with all its content and blobs", (*decomposedfs.FS).PurgeSpace),
	)
	return cmd
}

// jsonSpaceInfo is the JSON form of a SpaceInfo for the space commands:
// what fs spaces --json prints, and more. Its field names are an
// interface: add fields, never rename.
type jsonSpaceInfo struct {
	jsonSpace
	Reserved    int64      `json:"reserved"`
	Available   int64      `json:"available"` // -1: no quota
	Description string     `json:"description,omitempty"`
	Disabled    *time.Time `json:"disabled,omitempty"`
	Permissions string     `json:"permissions"`
}

func jsonSpaceOf(si *decomposedfs.SpaceInfo) jsonSpaceInfo {
	j := jsonSpaceInfo{
		jsonSpace: jsonSpace{ID: si.ID, Type: string(si.Type), Name: si.Name, Owner: si.Owner, Quota: si.Quota,
			Used: si.Used, Mtime: si.Mtime.UTC(), Etag: strings.Trim(si.Etag, `"`)},
		Reserved: si.Reserved, Available: si.Available(), Description: si.Description, Permissions: si.Permissions.String(),
	}
	if !si.Disabled.IsZero() {
		d := si.Disabled.UTC()
		j.Disabled = &d
	}
	return j
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func quotaText(q int64) string {
	if q == 0 {
		return "-"
	}
	return strconv.FormatInt(q, 10)
}

func (a *app) spaceCreateCommand(c *adminConfig) *cobra.Command {
	var owner, desc, id, quota string
	var asJSON bool
	typ := newChoice("project", "project", "personal")
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a space and print its id",
		Long: `Create a space and print its id. A personal space needs --owner; its id is
then the one the server gives the owner's personal space (/dav/files/OWNER/),
unless --id says otherwise. With --as USER, the owner defaults to USER.`,
		Args: args(1, 1),
		RunE: run(func(cmd *cobra.Command, argv []string) error {
			spec := decomposedfs.SpaceSpec{Type: metadata.SpaceType(typ.value), Name: argv[0], Owner: owner, ID: strings.ToLower(id)}
			if spec.Owner == "" {
				spec.Owner = c.as
			}
			if quota != "" {
				q, err := parseQuota(quota)
				if err != nil {
					return usageError(err)
				}
				spec.Quota = q
			}
			if spec.ID != "" && metadata.ValidateID(spec.ID) != nil {
				return usageErrorf("--id %q is not a space id (a UUID)", id)
			}
			if spec.Type == decomposedfs.SpacePersonal {
				if spec.Owner == "" {
					return usageErrorf("a personal space needs --owner")
				}
				if spec.ID == "" {
					spec.ID = decomposedfs.PersonalSpaceID(spec.Owner)
				}
			}
			s, err := a.openAdmin(cmd, c, false)
			if err != nil {
				return err
			}
			defer s.Close()
			si, err := s.fs.CreateSpace(s.ctx, spec)
			if err != nil {
				return opError("space create", showPath(argv[0]), err)
			}
			if desc != "" {
				if si, err = s.fs.UpdateSpace(s.ctx, si.ID, decomposedfs.SpaceUpdate{Description: &desc}); err != nil {
					return opError("space create", showPath(argv[0]), err)
				}
			}
			if asJSON {
				return json.NewEncoder(a.stdout).Encode(jsonSpaceOf(si))
			}
			_, err = fmt.Fprintln(a.stdout, si.ID)
			return err
		}),
	}
	f := cmd.Flags()
	f.StringVar(&owner, "owner", "", "the owning `USER` (may do anything in the space)")
	f.Var(&typ, "type", "space type")
	f.StringVar(&quota, "quota", "", "quota `SIZE` in bytes or with KiB/MiB/GiB (default: none)")
	f.StringVar(&desc, "description", "", "a description `TEXT`")
	f.StringVar(&id, "id", "", "the space `ID` (default: a new random one)")
	f.BoolVar(&asJSON, "json", false, "print the new space as a JSON object")
	return cmd
}

// parseQuota parses a quota: a size, or "none" (0, no quota).
func parseQuota(s string) (int64, error) {
	if strings.EqualFold(s, "none") {
		return 0, nil
	}
	n, err := parseSize(s)
	if err != nil {
		return 0, fmt.Errorf("quota: %v", err)
	}
	return n, nil
}

func (a *app) spaceListCommand(c *adminConfig) *cobra.Command {
	var owner, member, name string
	var asJSON bool
	typ := newChoice("", "project", "personal")
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List spaces",
		Long: `List the spaces, sorted by name: id, type, bytes used, quota ("-" for none),
owner ("-" for none) and name, "(disabled)" after a disabled one; or one JSON
object per line with --json. As an administrator every space is listed, as
--as USER those the user owns or is a member of.`,
		Args: args(0, 0),
		RunE: run(func(cmd *cobra.Command, _ []string) error {
			if member != "" && !strings.HasPrefix(member, "user:") && !strings.HasPrefix(member, "group:") {
				return usageErrorf("--member %q: want user:NAME or group:NAME", member)
			}
			s, err := a.openAdmin(cmd, c, false)
			if err != nil {
				return err
			}
			defer s.Close()
			spaces, err := s.fs.ListSpaces(s.ctx, decomposedfs.SpaceFilter{
				Type: metadata.SpaceType(typ.value), Owner: owner, Member: member, Name: name})
			if err != nil {
				return fmt.Errorf("space list: %s", describe(err))
			}
			enc := json.NewEncoder(a.stdout)
			for _, si := range spaces {
				if asJSON {
					err = enc.Encode(jsonSpaceOf(si))
				} else {
					state := ""
					if !si.Disabled.IsZero() {
						state = " (disabled)"
					}
					_, err = fmt.Fprintf(a.stdout, "%s %-8s %12d %12s %s %s%s\n", si.ID, si.Type, si.Used, quotaText(si.Quota),
						orDash(si.Owner), showPath(si.Name), state)
				}
				if err != nil {
					return err
				}
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&owner, "owner", "", "only spaces owned by `USER`")
	f.StringVar(&member, "member", "", "only spaces with a grant on their root to `GRANTEE` (user:NAME or group:NAME)")
	f.StringVar(&name, "name", "", "only spaces called `NAME`")
	f.Var(&typ, "type", "only spaces of this type")
	f.BoolVar(&asJSON, "json", false, "one JSON object per line")
	return cmd
}

func (a *app) spaceInfoCommand(c *adminConfig) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "info SPACE",
		Short: "Show a space: quota, use, state and members",
		Args:  args(1, 1),
		RunE: run(func(cmd *cobra.Command, argv []string) error {
			s, err := a.openAdmin(cmd, c, false)
			if err != nil {
				return err
			}
			defer s.Close()
			id, err := resolveSpace(s.admin, s.fs, argv[0])
			if err != nil {
				return err
			}
			si, err := s.fs.GetSpace(s.ctx, id)
			if err != nil {
				return opError("space info", showPath(argv[0]), err)
			}
			if asJSON {
				return json.NewEncoder(a.stdout).Encode(jsonSpaceOf(si))
			}
			grants, err := s.fs.Grants(s.ctx, id)
			if err != nil {
				return opError("space info", showPath(argv[0]), err)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 1, ' ', 0)
			row := func(k, v string) {
				if v != "" {
					fmt.Fprintf(tw, "%s:\t%s\n", k, v)
				}
			}
			row("id", si.ID)
			row("name", showPath(si.Name))
			row("type", string(si.Type))
			row("owner", si.Owner)
			row("description", showPath(si.Description))
			row("quota", quotaText(si.Quota))
			row("used", strconv.FormatInt(si.Used, 10))
			row("reserved", strconv.FormatInt(si.Reserved, 10))
			if si.Quota != 0 {
				row("available", strconv.FormatInt(si.Available(), 10))
			}
			row("mtime", si.Mtime.UTC().Format(time.RFC3339Nano))
			row("etag", strings.Trim(si.Etag, `"`))
			if !si.Disabled.IsZero() {
				row("disabled", si.Disabled.UTC().Format(time.RFC3339))
			}
			for _, g := range grants {
				if g.Path == "/" {
					row("member", grantText(g))
				}
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON object")
	return cmd
}

// spaceUpdateCommand makes rename and describe.
func (a *app) spaceUpdateCommand(c *adminConfig, use, short string, set func(*decomposedfs.SpaceUpdate, string)) *cobra.Command {
	verb := strings.Fields(use)[0]
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args(2, 2),
		RunE: run(func(cmd *cobra.Command, argv []string) error {
			s, err := a.openAdmin(cmd, c, false)
			if err != nil {
				return err
			}
			defer s.Close()
			id, err := resolveSpace(s.admin, s.fs, argv[0])
			if err != nil {
				return err
			}
			var u decomposedfs.SpaceUpdate
			set(&u, argv[1])
			if _, err := s.fs.UpdateSpace(s.ctx, id, u); err != nil {
				return opError("space "+verb, showPath(argv[0]), err)
			}
			return nil
		}),
	}
}

func (a *app) spaceQuotaCommand(c *adminConfig) *cobra.Command {
	return &cobra.Command{
		Use:   "quota SPACE SIZE|none",
		Short: "Set a space's quota (administrators only)",
		Long: `Set a space's quota: bytes, or a number with KiB, MiB or GiB; "none" (or 0)
removes it. Files stored already stay, even if they exceed the new quota;
uploads that would exceed it are refused (over WebDAV: 507).`,
		Args: args(2, 2),
		RunE: run(func(cmd *cobra.Command, argv []string) error {
			q, err := parseQuota(argv[1])
			if err != nil {
				return usageError(err)
			}
			s, err := a.openAdmin(cmd, c, false)
			if err != nil {
				return err
			}
			defer s.Close()
			id, err := resolveSpace(s.admin, s.fs, argv[0])
			if err != nil {
				return err
			}
			if _, err := s.fs.SetQuota(s.ctx, id, q); err != nil {
				return opError("space quota", showPath(argv[0]), err)
			}
			return nil
		}),
	}
}

// spaceStateCommand makes disable, restore and purge.
func (a *app) spaceStateCommand(c *adminConfig, verb, short string, do func(*decomposedfs.FS, context.Context, string) error) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " SPACE",
		Short: short,
		Args:  args(1, 1),
		RunE: run(func(cmd *cobra.Command, argv []string) error {
			s, err := a.openAdmin(cmd, c, false)
			if err != nil {
				return err
			}
			defer s.Close()
			id, err := resolveSpace(s.admin, s.fs, argv[0])
			if err != nil {
				return err
			}
			if err := do(s.fs, s.ctx, id); err != nil {
				return opError("space "+verb, showPath(argv[0]), err)
			}
			return nil
		}),
	}
}

// grantText is one line about a grant: grantee, role, denial, expiry.
func grantText(g decomposedfs.GrantInfo) string {
	s := g.Grantee + " " + g.Role
	if g.Deny {
		s += " deny"
	}
	if !g.Expires.IsZero() {
		s += " expires=" + g.Expires.UTC().Format(time.RFC3339)
	}
	return s
}
