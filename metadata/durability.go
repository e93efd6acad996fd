package metadata

import "fmt"

// Durability says what a backend's write waits for before it returns. Every
// backend has the same two levels, so that comparisons match like with like;
// each documents what they mean for it (metadata/mpk: flushed records and
// directories; metadata/sql: synchronous_commit, SQLite's synchronous).
type Durability int

const (
	// DurabilityNone leaves flushing to the system: a crash of the machine
	// (not of the process) may lose recent writes, never tear one.
	DurabilityNone Durability = iota
	// DurabilityFsync returns once the write is on stable storage.
	DurabilityFsync
)

func (d Durability) String() string {
	switch d {
	case DurabilityNone:
		return "none"
	case DurabilityFsync:
		return "fsync"
	}
	return fmt.Sprintf("Durability(%d)", int(d))
}

// ParseDurability parses "none" (or "") and "fsync".
func ParseDurability(s string) (Durability, error) {
	switch s {
	case "none", "":
		return DurabilityNone, nil
	case "fsync":
		return DurabilityFsync, nil
	}
	return 0, fmt.Errorf("metadata: unknown durability %q (want none or fsync)", s)
}
