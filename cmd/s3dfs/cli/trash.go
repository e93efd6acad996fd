package cli

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

func (a *app) trashCommand() *cobra.Command {
	c := &adminConfig{}
	cmd := a.adminCommand("trash", "List, restore and purge a space's trash", `List, restore and purge the trash of a space (--space). Each 'fs rm' (or
WebDAV DELETE) puts one item into the trash: a file, or a folder with
everything in it. ITEM is an item's id, as 'trash list' shows it; ITEM/PATH
names something inside a trashed folder.`, true, c)
	cmd.AddCommand(a.trashListCommand(c), a.trashRestoreCommand(c), a.trashPurgeCommand(c), a.trashEmptyCommand(c))
	return cmd
}

// jsonTrashItem is the JSON form of a trash item (trash list --json). Its
// field names are an interface: add fields, never rename.
type jsonTrashItem struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Type         string    `json:"type"`
	Size         int64     `json:"size"`
	Deleted      time.Time `json:"deleted"`
	ParentID     string    `json:"parentId"`
	OriginalPath string    `json:"originalPath,omitempty"` // absent when its folder is gone too
}

// splitItem splits ITEM[/PATH].
func splitItem(arg string) (item, rel string, err error) {
	item, rest, _ := strings.Cut(strings.TrimPrefix(arg, "/"), "/")
	if item == "" {
		return "", "", usageErrorf("%q names no trash item", arg)
	}
	if rest == "" {
		return item, "", nil
	}
	rel, err = spacePath(rest)
	return item, rel, err
}

func (a *app) trashListCommand(c *adminConfig) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list [ITEM[/PATH]]",
		Aliases: []string{"ls"},
		Short:   "List the trash, or a trashed folder",
		Long: `List the trash, newest first: item id, deletion time, type, size and where
the item was (its name alone if the folder it was in is gone too). With
ITEM[/PATH], list a trashed folder as 'fs ls -l' does. --json prints one JSON
object per line.`,
		Args: args(0, 1),
		RunE: run(func(cmd *cobra.Command, argv []string) error {
			s, err := a.openAdmin(cmd, c, true)
			if err != nil {
				return err
			}
			defer s.Close()
			enc := json.NewEncoder(a.stdout)
			if len(argv) == 1 {
				item, rel, err := splitItem(argv[0])
				if err != nil {
					return opError("trash list", showPath(argv[0]), err)
				}
				l, err := s.fs.ListTrashFolder(s.ctx, s.sid, item, rel)
				if err != nil {
					return opError("trash list", showPath(argv[0]), err)
				}
				for _, ri := range l.Children {
					if asJSON {
						err = enc.Encode(jsonResource(ri))
					} else {
						err = writeLong(a.stdout, ri, displayName(ri))
					}
					if err != nil {
						return err
					}
				}
				return nil
			}
			items, err := s.fs.ListTrash(s.ctx, s.sid)
			if err != nil {
				return opError("trash list", s.sid, err)
			}
			for _, it := range items {
				if asJSON {
					err = enc.Encode(jsonTrashItem{ID: it.ID, Name: it.Name, Type: it.Type.String(), Size: it.Size,
						Deleted: it.Deleted.UTC(), ParentID: it.ParentID, OriginalPath: it.OriginalPath})
				} else {
					where := it.OriginalPath
					if where == "" {
						where = it.Name
					}
					_, err = fmt.Fprintf(a.stdout, "%s %s %-6s %12d %s\n", it.ID, it.Deleted.UTC().Format(time.RFC3339), it.Type, it.Size, showPath(where))
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

func (a *app) trashRestoreCommand(c *adminConfig) *cobra.Command {
	var to string
	var overwrite bool
	cmd := &cobra.Command{
		Use:   "restore ITEM[/PATH] [--to PATH] [--overwrite]",
		Short: "Bring a trash item (or part of it) back",
		Long: `Bring a trash item back to where it was, or to --to PATH (a PATH ending in
"/" is a folder to restore into, keeping the name). Something inside a
trashed folder (ITEM/PATH) needs --to. If the target name is taken, restore
fails unless --overwrite is given, which moves what is there to the trash.`,
		Args: args(1, 1),
		RunE: run(func(cmd *cobra.Command, argv []string) error {
			item, rel, err := splitItem(argv[0])
			if err != nil {
				return opError("trash restore", showPath(argv[0]), err)
			}
			opts := decomposedfs.RestoreOptions{Path: rel, Overwrite: overwrite}
			s, err := a.openAdmin(cmd, c, true)
			if err != nil {
				return err
			}
			defer s.Close()
			if to != "" {
				name := ""
				if strings.HasSuffix(to, "/") {
					// The name is the trashed node's: its last path
					// segment, or the item's own name.
					if rel != "" {
						name = rel[strings.LastIndexByte(rel, '/')+1:]
					} else if name, err = trashItemName(s, item); err != nil {
						return opError("trash restore", showPath(argv[0]), err)
					}
				}
				p, err := targetPath(to, name)
				if err != nil {
					return opError("trash restore", showPath(to), err)
				}
				ref := s.ref(p)
				opts.Target = &ref
			} else if rel != "" {
				return usageErrorf("restoring something inside a trashed folder needs --to PATH")
			}
			if _, err := s.fs.RestoreTrash(s.ctx, s.sid, item, opts); err != nil {
				return opError("trash restore", showPath(argv[0]), err)
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&to, "to", "", "restore to `PATH` instead of where it was")
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "replace what has the name (it goes to the trash)")
	return cmd
}

// trashItemName is the name of a trash item.
func trashItemName(s *adminSession, item string) (string, error) {
	items, err := s.fs.ListTrash(s.ctx, s.sid)
	if err != nil {
		return "", err
	}
	for _, it := range items {
		if it.ID == item {
			return it.Name, nil
		}
	}
	return "", decomposedfs.ErrNotFound
}

func (a *app) trashPurgeCommand(c *adminConfig) *cobra.Command {
	var olderThan string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "purge ITEM... | --older-than DURATION",
		Short: "Delete trash items for good",
		Long: `Delete trash items for good, with their blobs and revisions: those named, or
with --older-than those deleted longer ago than DURATION (Go durations like
36h, plus days and weeks: 30d, 2w).`,
		Example: `  s3dfs trash purge --space proj --older-than 30d -v`,
		Args:    args(0, -1),
		RunE: run(func(cmd *cobra.Command, items []string) error {
			var age time.Duration
			switch {
			case olderThan != "" && len(items) > 0:
				return usageErrorf("give items or --older-than, not both")
			case olderThan == "" && len(items) == 0:
				return usageErrorf("trash purge needs items or --older-than DURATION")
			case olderThan != "":
				var err error
				if age, err = parseAge(olderThan); err != nil {
					return usageError(err)
				}
			}
			s, err := a.openAdmin(cmd, c, true)
			if err != nil {
				return err
			}
			defer s.Close()
			if olderThan != "" {
				n, err := s.fs.PurgeTrashOlderThan(s.ctx, s.sid, age)
				if err != nil {
					return opError("trash purge", "--older-than "+olderThan, err)
				}
				if verbose {
					fmt.Fprintf(a.stdout, "%d purged\n", n)
				}
				return nil
			}
			return a.each(items, func(item string) error {
				if err := s.fs.PurgeTrash(s.ctx, s.sid, item); err != nil {
					return opError("trash purge", showPath(item), err)
				}
				if verbose {
					fmt.Fprintln(a.stdout, item)
				}
				return nil
			})
		}),
	}
	cmd.Flags().StringVar(&olderThan, "older-than", "", "purge the items deleted more than `DURATION` ago")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print what was purged")
	return cmd
}

// parseAge parses a duration: Go's syntax, plus whole days (d) and weeks
// (w) on their own ("30d", "2w").
func parseAge(s string) (time.Duration, error) {
	bad := fmt.Errorf("--older-than %q: want a duration like 36h, 30d or 2w", s)
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			if err != nil || v <= 0 || v > int64(1<<62/unit) {
				return 0, bad
			}
			return time.Duration(v) * unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, bad
	}
	return d, nil
}

func (a *app) trashEmptyCommand(c *adminConfig) *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "empty",
		Short: "Delete everything in the trash for good",
		Args:  args(0, 0),
		RunE: run(func(cmd *cobra.Command, _ []string) error {
			s, err := a.openAdmin(cmd, c, true)
			if err != nil {
				return err
			}
			defer s.Close()
			n, err := s.fs.EmptyTrash(s.ctx, s.sid)
			if err != nil {
				return opError("trash empty", s.sid, err)
			}
			if verbose {
				fmt.Fprintf(a.stdout, "%d purged\n", n)
			}
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print how many items were purged")
	return cmd
}
