package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strconv"

	"github.com/spf13/pflag"
)

// applySources fills the flags that the command line left alone: from
// their environment variable (S3DFS_ + the name in upper case), else from
// the JSON config file, so that flags beat the environment, which beats
// the file, which beats the defaults. The file is an object of flag names
// to values (strings, numbers or booleans); an unknown name is a usage
// error, so that a typo does not pass silently.
func applySources(flags *pflag.FlagSet, configFile string) error {
	if configFile == "" {
		configFile = os.Getenv(envVar("config"))
	}
	file := map[string]string{}
	if configFile != "" {
		var err error
		if file, err = readConfigFile(configFile); err != nil {
			return err
		}
		for name := range file {
			if f := flags.Lookup(name); f == nil || f.Hidden || name == "config" {
				return usageErrorf("config file %s: unknown setting %q", configFile, name)
			}
		}
	}
	var errs []error
	flags.VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "config" || f.Name == "help" {
			return
		}
		src, v := envVar(f.Name), os.Getenv(envVar(f.Name))
		if v == "" {
			fv, ok := file[f.Name]
			if !ok {
				return
			}
			src, v = configFile+": "+f.Name, fv
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, usageErrorf("%s: %v", src, err))
		}
	})
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

func readConfigFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErrorf("config file: %v", err)
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, usageErrorf("config file %s: %v", path, err)
	}
	out := make(map[string]string, len(raw))
	names := make([]string, 0, len(raw))
	for k := range raw {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		var v any
		if err := json.Unmarshal(raw[k], &v); err != nil {
			return nil, usageErrorf("config file %s: %s: %v", path, k, err)
		}
		switch x := v.(type) {
		case string:
			out[k] = x
		case bool:
			out[k] = strconv.FormatBool(x)
		case float64:
			out[k] = string(raw[k]) // keep the literal: 1e3 stays an error for an int flag
		default:
			return nil, usageErrorf("config file %s: %s must be a string, number or boolean", path, k)
		}
	}
	return out, nil
}
