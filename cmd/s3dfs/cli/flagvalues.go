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

// percent is a share flag: "5%", or a fraction such as 0.05; between 0 and
// 100%.
type percent float64

func (p *percent) String() string { return strconv.FormatFloat(float64(*p)*100, 'g', -1, 64) + "%" }
func (p *percent) Type() string   { return "PERCENT" }

func (p *percent) Set(s string) error {
	t := strings.TrimSpace(s)
	div := 1.0
	if v, ok := strings.CutSuffix(t, "%"); ok {
		t, div = strings.TrimSpace(v), 100
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v/div > 1 {
		return fmt.Errorf("%q is not a share between 0%% and 100%% (like 5%% or 0.05)", s)
	}
	*p = percent(v / div)
	return nil
}
