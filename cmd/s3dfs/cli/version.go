package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Version is the release, set at build time:
//
//	go build -ldflags "-X github.com/s3dfs/s3dfs/cmd/s3dfs/cli.Version=v1.2.3" ./cmd/s3dfs
var Version = "dev"

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the Go version and the source revision",
		Args:  args(0, 0),
		RunE: run(func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(a.stdout, versionString())
			return err
		}),
	}
}

// versionString is "s3dfs v1.2.3 (go1.26.8 linux/amd64, rev 0123abcd4567,
// modified)"; the revision comes from the VCS stamp of the build, if any.
func versionString() string {
	v := Version
	details := []string{runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		// "go install ...@v1.2.3" stamps the module version instead.
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if rev != "" {
			details = append(details, "rev "+rev[:min(len(rev), 12)])
			if modified == "true" {
				details = append(details, "modified")
			}
		}
	}
	return fmt.Sprintf("s3dfs %s (%s)", v, strings.Join(details, ", "))
}
