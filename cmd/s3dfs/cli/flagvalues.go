package cli

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// choice is a string flag that accepts one of a fixed set of values, so
// that a typo fails while the command line is parsed (exit 2), whether it
// came from a flag or an environment variable.
type choice struct {
	value   string
	allowed []string
}

func newChoice(def string, allowed ...string) choice {
	return choice{value: def, allowed: allowed}
}

func (c *choice) String() string { return c.value }
func (c *choice) Type() string   { return strings.Join(c.allowed, "|") }

func (c *choice) Set(s string) error {
	if !slices.Contains(c.allowed, s) {
		return fmt.Errorf("%q is not one of %s", s, strings.Join(c.allowed, ", "))
	}
	c.value = s
	return nil
}

// byteSize is a size flag: plain bytes, or a number with a KiB, MiB or GiB
// suffix (binary units; "16MiB" = 16777216). Decimal suffixes (MB) are
// refused rather than guessed.
type byteSize int64

var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}

func (b *byteSize) Type() string { return "SIZE" }

func (b *byteSize) String() string {
	for _, u := range sizeUnits {
		if *b != 0 && int64(*b)%u.mult == 0 {
			return strconv.FormatInt(int64(*b)/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(*b), 10)
}

func (b *byteSize) Set(s string) error {
	v, err := parseSize(s)
	if err != nil {
		return err
	}
	*b = byteSize(v)
	return nil
}

func parseSize(s string) (int64, error) {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range sizeUnits {
		if len(num) > len(u.suffix) && strings.EqualFold(num[len(num)-len(u.suffix):], u.suffix) {
			num, mult = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid size %q (want bytes, or a number with KiB, MiB or GiB)", s)
	}
	return n * mult, nil
}
