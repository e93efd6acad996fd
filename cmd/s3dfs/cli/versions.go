package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func (a *app) versionsCommand() *cobra.Command {
	c := &adminConfig{}
	cmd := a.adminCommand("versions", "List, download, restore and delete the earlier contents of a file", `List, download, restore and delete the revisions of a file of a space
(--space): the contents it had before it was overwritten. REV is a revision's
id, as 'versions list' shows it.`, true, c)
	cmd.AddCommand(a.versionsListCommand(c), a.versionsGetCommand(c),
		a.versionsChangeCommand(c, "restore", "Make a revision the current content (the current one becomes a revision)"),
		a.versionsChangeCommand(c, "delete", "Delete a revision for good"))
	return cmd
}

// jsonRevision is the JSON form of a revision (versions list --json). Its
// field names are an interface: add fields, never rename.
type jsonRevision struct {
	ID        string        `json:"id"`
	Size      int64         `json:"size"`
	Mtime     time.Time     `json:"mtime"`
	Etag      string        `json:"etag"`
	Checksums jsonChecksums `json:"checksums"`
}

func (a *app) versionsListCommand(c *adminConfig) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list PATH",
		Aliases: []string{"ls"},
		Short:   "List a file's revisions, oldest first",
		Long: `List a file's revisions, oldest first: id, mtime, size and etag; or one JSON
object per line with --json.`,
		Args: args(1, 1),
		RunE: run(func(cmd *cobra.Command, argv []string) error {
			p, err := spacePath(argv[0])
			if err != nil {
				return opError("versions list", showPath(argv[0]), err)
			}
			s, err := a.openAdmin(cmd, c, true)
			if err != nil {
				return err
			}
			defer s.Close()
			revs, err := s.fs.ListRevisions(s.ctx, s.ref(p))
			if err != nil {
				return opError("versions list", showPath(p), err)
			}
			enc := json.NewEncoder(a.stdout)
			for _, r := range revs {
				et := strings.Trim(r.Etag, `"`)
				if asJSON {
					err = enc.Encode(jsonRevision{ID: r.ID, Size: r.Size, Mtime: r.Mtime.UTC(), Etag: et,
						Checksums: jsonChecksums{SHA1: r.Checksums.SHA1, MD5: r.Checksums.MD5, Adler32: r.Checksums.Adler32}})
				} else {
					_, err = fmt.Fprintf(a.stdout, "%s %s %12d %s\n", r.ID, r.Mtime.UTC().Format(time.RFC3339), r.Size, et)
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

func (a *app) versionsGetCommand(c *adminConfig) *cobra.Command {
	var rng string
	cmd := &cobra.Command{
		Use:   "get PATH REV [LOCALFILE|-]",
		Short: "Download a revision to stdout or a local file",
		Long: `Download a revision of a file to stdout (no LOCALFILE, or "-") or to
LOCALFILE, as 'fs get' does.`,
		Args: args(2, 3),
		RunE: run(func(cmd *cobra.Command, argv []string) error {
			p, err := spacePath(argv[0])
			if err != nil {
				return opError("versions get", showPath(argv[0]), err)
			}
			off, length := int64(0), int64(-1)
			if rng != "" {
				if off, length, err = parseRange(rng); err != nil {
					return usageError(err)
				}
			}
			s, err := a.openAdmin(cmd, c, true)
			if err != nil {
				return err
			}
			defer s.Close()
			rc, _, err := s.fs.DownloadRevision(s.ctx, s.ref(p), argv[1], off, length)
			if err != nil {
				return opError("versions get", showPath(p)+" "+argv[1], err)
			}
			defer rc.Close()
			if len(argv) == 2 || argv[2] == "-" {
				if _, err := io.Copy(a.stdout, rc); err != nil {
					return opError("versions get", showPath(p)+" "+argv[1], err)
				}
				return nil
			}
			local := argv[2]
			if fi, err := os.Stat(local); err == nil && fi.IsDir() {
				local = filepath.Join(local, path.Base(p))
			}
			if err := writeFileAtomic(local, rc); err != nil {
				return opError("versions get", showPath(p)+" "+argv[1], err)
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&rng, "range", "", "download only bytes `OFF-END` (inclusive, as in HTTP; OFF- for the rest)")
	return cmd
}

// versionsChangeCommand makes restore and delete.
func (a *app) versionsChangeCommand(c *adminConfig, verb, short string) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " PATH REV",
		Short: short,
		Args:  args(2, 2),
		RunE: run(func(cmd *cobra.Command, argv []string) error {
			p, err := spacePath(argv[0])
			if err != nil {
				return opError("versions "+verb, showPath(argv[0]), err)
			}
			s, err := a.openAdmin(cmd, c, true)
			if err != nil {
				return err
			}
			defer s.Close()
			if verb == "restore" {
				_, err = s.fs.RestoreRevision(s.ctx, s.ref(p), argv[1])
			} else {
				err = s.fs.DeleteRevision(s.ctx, s.ref(p), argv[1])
			}
			if err != nil {
				return opError("versions "+verb, showPath(p)+" "+argv[1], err)
			}
			return nil
		}),
	}
}
