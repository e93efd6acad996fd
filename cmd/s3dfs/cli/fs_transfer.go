package cli

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

func (a *app) putCommand() *cobra.Command {
	var mtime, checksum string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "put LOCALFILE|- REMOTEPATH",
		Short: "Upload a local file (or stdin) to a file",
		Long: `Upload a local file, or stdin for "-", to REMOTEPATH, replacing the content
of a file that is there already. A REMOTEPATH ending in "/" is a folder to put
the file into under its local name. The upload is all or nothing: if it fails,
is interrupted or its checksum does not match, nothing changes.`,
		Example: `  s3dfs fs put report.pdf /docs/
  tar c dir | s3dfs fs put - /backup/dir.tar --checksum sha1:$SUM`,
		Args: args(2, 2),
		RunE: run(func(cmd *cobra.Command, argv []string) error {
			local, remote := argv[0], argv[1]
			opts := decomposedfs.UploadOptions{Size: -1}
			var err error
			if mtime != "" {
				if opts.Mtime, err = time.Parse(time.RFC3339Nano, mtime); err != nil {
					return usageErrorf("--mtime %q is not an RFC 3339 time like 2006-01-02T15:04:05Z", mtime)
				}
			}
			if checksum != "" {
				if opts.Checksum, err = parseChecksum(checksum); err != nil {
					return usageError(err)
				}
			}
			if local == "-" && strings.HasSuffix(remote, "/") {
				return usageErrorf("REMOTEPATH %s is a folder, and stdin has no name to give the file", remote)
			}
			dst, err := targetPath(remote, filepath.Base(local))
			if err != nil {
				return opError("put", showPath(remote), err)
			}

			var body io.Reader = a.stdin
			if local != "-" {
				f, err := os.Open(local)
				if err != nil {
					return fmt.Errorf("put: %w", err)
				}
				defer f.Close()
				fi, err := f.Stat()
				if err != nil {
					return fmt.Errorf("put: %w", err)
				}
				if fi.IsDir() {
					return fmt.Errorf("put: %s is a directory", local)
				}
				if fi.Mode().IsRegular() {
					opts.Size = fi.Size()
				}
				body = f
			}

			s, err := a.openSpace(cmd, true)
			if err != nil {
				return err
			}
			defer s.Close()
			ri, err := s.fs.Upload(cmd.Context(), s.ref(dst), body, opts)
			if err != nil {
				return opError("put", showPath(dst), err)
			}
			if verbose {
				return writeLong(a.stdout, ri, showPath(ri.Path))
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&mtime, "mtime", "", "modification `TIME` of the file, RFC 3339 (default now)")
	f.StringVar(&checksum, "checksum", "", "expected checksum, `TYPE:HEX` with TYPE sha1, md5 or adler32")
	f.BoolVarP(&verbose, "verbose", "v", false, "print the uploaded file as ls -l does")
	return cmd
}

// parseChecksum parses "sha1:HEX" (or md5, adler32).
func parseChecksum(s string) (*decomposedfs.Checksum, error) {
	typ, val, ok := strings.Cut(s, ":")
	typ = strings.ToLower(typ)
	lengths := map[string]int{"sha1": 40, "md5": 32, "adler32": 8}
	want, known := lengths[typ]
	if !ok || !known {
		return nil, fmt.Errorf("--checksum %q: want TYPE:HEX with TYPE sha1, md5 or adler32", s)
	}
	if _, err := hex.DecodeString(val); err != nil || len(val) != want {
		return nil, fmt.Errorf("--checksum %q: a %s checksum is %d hex digits", s, typ, want)
	}
	return &decomposedfs.Checksum{Type: typ, Value: strings.ToLower(val)}, nil
}

func (a *app) getCommand() *cobra.Command {
	var rng string
	cmd := &cobra.Command{
		Use:   "get REMOTEPATH [LOCALFILE|-]",
		Short: "Download a file to stdout or a local file",
		Long: `Download a file to stdout (no LOCALFILE, or "-") or to LOCALFILE. A local
file is written next to its final name and renamed into place once complete,
so an interrupted download never leaves a partial file; a LOCALFILE that is a
directory receives the file under its remote name.`,
		Example: `  s3dfs fs get /docs/report.pdf .
  s3dfs fs get /logs/big.log --range 1048576- | head`,
		Args: args(1, 2),
		RunE: run(func(cmd *cobra.Command, argv []string) error {
			src, err := spacePath(argv[0])
			if err != nil {
				return opError("get", showPath(argv[0]), err)
			}
			off, length := int64(0), int64(-1)
			if rng != "" {
				if off, length, err = parseRange(rng); err != nil {
					return usageError(err)
				}
			}
			s, err := a.openSpace(cmd, false)
			if err != nil {
				return err
			}
			defer s.Close()
			rc, _, err := s.fs.Download(cmd.Context(), s.ref(src), off, length)
			if err != nil {
				return opError("get", showPath(src), err)
			}
			defer rc.Close()
			if len(argv) == 1 || argv[1] == "-" {
				if _, err := io.Copy(a.stdout, rc); err != nil {
					return opError("get", showPath(src), err)
				}
				return nil
			}
			local := argv[1]
			if fi, err := os.Stat(local); err == nil && fi.IsDir() {
				local = filepath.Join(local, path.Base(src))
			}
			if err := writeFileAtomic(local, rc); err != nil {
				return opError("get", showPath(src), err)
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&rng, "range", "", "download only bytes `OFF-END` (inclusive, as in HTTP; OFF- for the rest)")
	return cmd
}

// parseRange parses "OFF-END" (END inclusive) or "OFF-" into an offset and
// a length (-1: to the end).
func parseRange(s string) (off, length int64, err error) {
	bad := fmt.Errorf("--range %q: want OFF-END (inclusive) or OFF-, in bytes", s)
	first, last, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, bad
	}
	if off, err = strconv.ParseInt(first, 10, 64); err != nil || off < 0 {
		return 0, 0, bad
	}
	if last == "" {
		return off, -1, nil
	}
	end, err := strconv.ParseInt(last, 10, 64)
	if err != nil || end < off {
		return 0, 0, bad
	}
	return off, end - off + 1, nil
}

// writeFileAtomic writes r to a new file next to name and renames it over
// name when complete, so that name is either untouched or complete.
func writeFileAtomic(name string, r io.Reader) (err error) {
	var rnd [6]byte
	rand.Read(rnd[:])
	tmp := filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+".s3dfs-"+hex.EncodeToString(rnd[:]))
	// O_EXCL with 0666 lets the umask decide the mode, as for any new file.
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = io.Copy(f, r); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}
