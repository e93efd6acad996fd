package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

func (a *app) lsCommand() *cobra.Command {
	var long, asJSON bool
	cmd := &cobra.Command{
		Use:   "ls [-l] [--json] [PATH]",
		Short: "List a folder",
		Long: `List a folder (default: the space root), sorted by name. Folders end in "/".
-l shows type, size, mtime, etag and name; --json prints one JSON object per
line. Entries whose metadata cannot be read are reported on stderr and make
ls exit 1 after listing the rest. A file is listed as itself.`,
		Args: args(0, 1),
		RunE: run(func(cmd *cobra.Command, argv []string) error {
			if long && asJSON {
				return usageErrorf("-l and --json exclude each other")
			}
			arg := "/"
			if len(argv) == 1 {
				arg = argv[0]
			}
			p, err := spacePath(arg)
			if err != nil {
				return opError("ls", showPath(arg), err)
			}
			s, err := a.openSpace(cmd, false)
			if err != nil {
				return err
			}
			defer s.Close()
			ctx := cmd.Context()
			l, err := s.fs.ListFolder(ctx, s.ref(p))
			if errors.Is(err, decomposedfs.ErrNotDir) {
				ri, err := s.fs.GetMD(ctx, s.ref(p))
				if err != nil {
					return opError("ls", showPath(p), err)
				}
				l = &decomposedfs.Listing{Children: []*decomposedfs.ResourceInfo{ri}}
			} else if err != nil {
				return opError("ls", showPath(p), err)
			}

			var write func(*decomposedfs.ResourceInfo) error
			switch {
			case asJSON:
				enc := json.NewEncoder(a.stdout)
				write = func(ri *decomposedfs.ResourceInfo) error { return enc.Encode(jsonResource(ri)) }
			case long:
				write = func(ri *decomposedfs.ResourceInfo) error { return writeLong(a.stdout, ri, displayName(ri)) }
			default:
				write = func(ri *decomposedfs.ResourceInfo) error {
					_, err := fmt.Fprintln(a.stdout, displayName(ri))
					return err
				}
			}
			for _, ri := range l.Children {
				if err := write(ri); err != nil {
					return err
				}
			}
			if len(l.Problems) == 0 {
				return nil
			}
			for _, pr := range l.Problems {
				node := ""
				if pr.ID != "" {
					node = " (node " + pr.ID + ")"
				}
				fmt.Fprintf(a.stderr, "s3dfs: ls %s: cannot read %s%s: %s\n", showPath(p), showPath(pr.Name), node, oneLine(describe(pr.Err)))
			}
			if len(l.Problems) == 1 {
				return fmt.Errorf("ls %s: 1 entry could not be read", showPath(p))
			}
			return fmt.Errorf("ls %s: %d entries could not be read", showPath(p), len(l.Problems))
		}),
	}
	cmd.Flags().BoolVarP(&long, "long", "l", false, "show type, size, mtime, etag and name")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line")
	return cmd
}

func (a *app) statCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stat [--json] PATH",
		Short: "Show everything about a file or folder",
		Args:  args(1, 1),
		RunE: run(func(cmd *cobra.Command, argv []string) error {
			p, err := spacePath(argv[0])
			if err != nil {
				return opError("stat", showPath(argv[0]), err)
			}
			s, err := a.openSpace(cmd, false)
			if err != nil {
				return err
			}
			defer s.Close()
			ri, err := s.fs.GetMD(cmd.Context(), s.ref(p))
			if err != nil {
				return opError("stat", showPath(p), err)
			}
			if asJSON {
				return json.NewEncoder(a.stdout).Encode(jsonResource(ri))
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 1, ' ', 0)
			row := func(k, v string) {
				if v != "" {
					fmt.Fprintf(tw, "%s:\t%s\n", k, v)
				}
			}
			row("path", showPath(ri.Path))
			row("type", ri.Type.String())
			row("size", fmt.Sprint(ri.Size))
			row("mtime", ri.Mtime.UTC().Format(time.RFC3339Nano))
			row("etag", etag(ri))
			row("id", ri.ID)
			row("parent", ri.ParentID)
			row("space", ri.SpaceID)
			row("mimetype", ri.MimeType)
			row("sha1", ri.Checksums.SHA1)
			row("md5", ri.Checksums.MD5)
			row("adler32", ri.Checksums.Adler32)
			return tw.Flush()
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON object")
	return cmd
}

func (a *app) spacesCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "spaces [--json]",
		Short: "List the spaces",
		Long: `List the spaces, sorted by name: id, type, bytes used and name, or one JSON
object per line with --json. The --space flag plays no part here.`,
		Args: args(0, 0),
		RunE: run(func(cmd *cobra.Command, _ []string) error {
			st, err := a.store.open(cmd.Context(), cmd.Flags(), a.log)
			if err != nil {
				return err
			}
			defer st.Close()
			spaces, err := st.fs.ListSpaces(cmd.Context(), decomposedfs.SpaceFilter{})
			if err != nil {
				return fmt.Errorf("spaces: %s", describe(err))
			}
			enc := json.NewEncoder(a.stdout)
			for _, sp := range spaces {
				if asJSON {
					err = enc.Encode(jsonSpace{
						ID: sp.ID, Type: string(sp.Type), Name: sp.Name, Owner: sp.Owner,
						Quota: sp.Quota, Used: sp.Used, Mtime: sp.Mtime.UTC(), Etag: strings.Trim(sp.Etag, `"`),
					})
				} else {
					_, err = fmt.Fprintf(a.stdout, "%s %-8s %12d %s\n", sp.ID, sp.Type, sp.Used, showPath(sp.Name))
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

// displayName is a listing's name column: folders end in "/", names that
// would garble a line are quoted.
func displayName(ri *decomposedfs.ResourceInfo) string {
	name := ri.Name
	if name == "" {
		name = "/" // a space root has no name
	} else if ri.IsDir() {
		name += "/"
	}
	return showPath(name)
}

// writeLong writes one ls -l line: type, size, mtime, etag, name.
func writeLong(w io.Writer, ri *decomposedfs.ResourceInfo, name string) error {
	_, err := fmt.Fprintf(w, "%-6s %12d %s %-20s %s\n",
		ri.Type, ri.Size, ri.Mtime.UTC().Format(time.RFC3339), etag(ri), name)
	return err
}

// etag is the etag without the quotes HTTP wants around it.
func etag(ri *decomposedfs.ResourceInfo) string { return strings.Trim(ri.Etag, `"`) }

// jsonInfo is the JSON form of a ResourceInfo, the output of ls and stat
// --json. Its field names are an interface: add fields, never rename.
type jsonInfo struct {
	ID        string        `json:"id"`
	ParentID  string        `json:"parentId"`
	SpaceID   string        `json:"spaceId"`
	Name      string        `json:"name"`
	Path      string        `json:"path"`
	Type      string        `json:"type"` // "file" or "folder"
	Size      int64         `json:"size"`
	Mtime     time.Time     `json:"mtime"`
	Etag      string        `json:"etag"`
	Checksums jsonChecksums `json:"checksums"`
	MimeType  string        `json:"mimeType"`
}

type jsonChecksums struct {
	SHA1    string `json:"sha1,omitempty"`
	MD5     string `json:"md5,omitempty"`
	Adler32 string `json:"adler32,omitempty"`
}

func jsonResource(ri *decomposedfs.ResourceInfo) jsonInfo {
	return jsonInfo{
		ID: ri.ID, ParentID: ri.ParentID, SpaceID: ri.SpaceID, Name: ri.Name, Path: ri.Path,
		Type: ri.Type.String(), Size: ri.Size, Mtime: ri.Mtime.UTC(), Etag: etag(ri),
		Checksums: jsonChecksums{SHA1: ri.Checksums.SHA1, MD5: ri.Checksums.MD5, Adler32: ri.Checksums.Adler32},
		MimeType:  ri.MimeType,
	}
}

// jsonSpace is the JSON form of a SpaceInfo (spaces --json).
type jsonSpace struct {
	ID    string    `json:"id"`
	Type  string    `json:"type"`
	Name  string    `json:"name"`
	Owner string    `json:"owner,omitempty"`
	Quota int64     `json:"quota"`
	Used  int64     `json:"used"`
	Mtime time.Time `json:"mtime"`
	Etag  string    `json:"etag"`
}
