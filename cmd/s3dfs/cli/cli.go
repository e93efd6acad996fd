// Package cli is the s3dfs command line: the cobra command tree, the flags
// and environment that configure the stores, and the mapping of errors to
// messages and exit codes. It holds no storage logic of its own.
//
// Exit codes: 0 success, 1 the operation failed (not found, already
// exists, checksum mismatch, I/O error, ...), 2 the command line was wrong
// (unknown command or flag, wrong arguments, missing or invalid
// configuration). Errors go to stderr as one line, "s3dfs: <message>".
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes of Execute.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// app is the state of one Execute call; nothing is global, so tests may
// run Execute many times in one process.
type app struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
	store  storeConfig
}

// Execute runs the s3dfs command line args (without the program name) and
// returns the process exit code. It never calls os.Exit.
func Execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, log: newLogger(stderr)}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := ExitUsage // errors that no RunE returned come from cobra's parsing
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if !errors.Is(err, errReported) {
		fmt.Fprintf(stderr, "s3dfs: %s\n", oneLine(err.Error()))
	}
	return code
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "s3dfs",
		Short: "Files and folders with metadata on a POSIX volume and content in S3",
		Long: `s3dfs keeps a tree of files and folders as small metadata records on a
POSIX volume (local disk, NFS, CephFS) and their content as blobs in an
S3-compatible store or a local directory.`,
		Args:          cobra.ArbitraryArgs,
		RunE:          missingCommand,
		SilenceErrors: true,
		SilenceUsage:  true,

		SuggestionsMinimumDistance: 2,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError(fmt.Errorf("%w (see '%s --help')", err, c.CommandPath()))
	})
	root.AddCommand(a.versionCommand(), a.initCommand(), a.fsCommand(), a.serveCommand(), a.userCommand(),
		a.spaceCommand(), a.trashCommand(), a.versionsCommand(), a.shareCommand())
	root.AddCommand(a.checkCommand())
	root.AddCommand(a.benchCommand())
	root.AddCommand(a.doctorCommand())
	return root
}

// missingCommand is the RunE of commands that only group others: a
// bare group or an unknown subcommand is a usage error, not a help page
// with exit status 0.
func missingCommand(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		hint := ""
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			hint = fmt.Sprintf("; did you mean %q?", s[0])
		}
		for _, sub := range cmd.Commands() {
			if c, _, err := sub.Find(args[:1]); err == nil && c != sub {
				hint = fmt.Sprintf("; did you mean %q?", c.CommandPath())
			}
		}
		return usageErrorf("unknown command %q for %q%s (see '%s --help')", args[0], cmd.CommandPath(), hint, cmd.CommandPath())
	}
	return usageError(fmt.Errorf("missing command (see '%s --help')", cmd.CommandPath()))
}

// exitError gives an error its exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(err error) error { return &exitError{code: ExitUsage, err: err} }

func usageErrorf(format string, args ...any) error {
	return usageError(fmt.Errorf(format, args...))
}

// errReported marks a failure whose details are already on stderr, so
// Execute prints nothing more.
var errReported = errors.New("reported")

// run adapts a command's function to cobra: whatever it returns that is
// not already classified is an operation failure (exit 1), so that exit 2
// stays reserved for command-line mistakes.
func run(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := fn(cmd, args)
		if err == nil {
			return nil
		}
		var ee *exitError
		if errors.As(err, &ee) {
			return err
		}
		return &exitError{code: ExitFailure, err: err}
	}
}

// args checks the number of positional arguments, with the usage line in
// the message so that a script's author sees what was expected.
func args(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= min && (max < 0 || len(args) <= max) {
			return nil
		}
		var want string
		switch {
		case min == max:
			want = fmt.Sprintf("%d", min)
		case max < 0:
			want = fmt.Sprintf("at least %d", min)
		default:
			want = fmt.Sprintf("%d to %d", min, max)
		}
		return usageErrorf("%s takes %s argument(s), got %d (usage: %s)", cmd.CommandPath(), want, len(args), cmd.UseLine())
	}
}

// oneLine folds a multi-line message (errors.Join, cobra suggestions) into
// one line.
func oneLine(s string) string {
	var parts []string
	for line := range strings.SplitSeq(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			parts = append(parts, line)
		}
	}
	return strings.Join(parts, "; ")
}
