package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"
)

// Flags beat the environment, which beats the config file, which beats
// the defaults.
func TestApplySourcesPrecedence(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(conf, []byte(`{"addr": "file:1", "users": "file-users", "root": "file-root", "propfind-depth-limit": 7, "allow-anonymous": true}`), 0o600)
	t.Setenv("S3DFS_ADDR", "env:1")
	t.Setenv("S3DFS_USERS", "env-users")
	t.Setenv("S3DFS_ROOT", "")
	t.Setenv("S3DFS_PROPFIND_DEPTH_LIMIT", "")
	t.Setenv("S3DFS_ALLOW_ANONYMOUS", "")
	t.Setenv("S3DFS_CONFIG", "")
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	addr := fs.String("addr", "default:1", "")
	users := fs.String("users", "default-users", "")
	root := fs.String("root", "default-root", "")
	depth := fs.Int("propfind-depth-limit", 16, "")
	anon := fs.Bool("allow-anonymous", false, "")
	other := fs.String("other", "default-other", "")
	fs.String("config", "", "")
	if err := fs.Parse([]string{"--addr", "flag:1"}); err != nil {
		t.Fatal(err)
	}
	if err := applySources(fs, conf); err != nil {
		t.Fatal(err)
	}
	if *addr != "flag:1" || *users != "env-users" || *root != "file-root" || *depth != 7 || !*anon || *other != "default-other" {
		t.Errorf("addr %s users %s root %s depth %d anon %v other %s", *addr, *users, *root, *depth, *anon, *other)
	}
	os.WriteFile(conf, []byte(`{"propfind-depth-limit": "many"}`), 0o600)
	if err := applySources(fs, conf); err == nil {
		t.Errorf("a bad value in the file passed")
	}
	os.WriteFile(conf, []byte(`{"addr": {"nested": 1}}`), 0o600)
	if err := applySources(fs, conf); err == nil {
		t.Errorf("an object value passed")
	}
}
