package posix

import (
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// Options configure a Store. Start from DefaultOptions.
type Options struct {
	// Fsync makes Put flush the blob to stable storage before renaming it
	// into place, and flush the directories the rename and any new parent
	// directories live in afterwards, so that a Put that returned survives
	// a crash. Without it a crash may lose recent blobs (never tear one:
	// the rename still publishes whole files only).
	Fsync bool

	// FileMode and DirMode are the permissions of blob files and of the
	// directories that hold them (before the umask). The owner must be able
	// to read and write files and to read, write and enter directories.
	FileMode fs.FileMode
	DirMode  fs.FileMode

	// StaleTempAge is how long a temp file may sit in .tmp/ without being
	// written before New deletes it as the leftover of a crashed Put. Other
	// processes may share the directory, so this must be far longer than
	// any pause in a live upload. 0 disables the sweep.
	StaleTempAge time.Duration
}

// DefaultOptions returns durable settings: Fsync on, 0644 files, 0755
// directories, temp files swept after a day.
func DefaultOptions() Options {
	return Options{
		Fsync:        true,
		FileMode:     0o644,
		DirMode:      0o755,
		StaleTempAge: 24 * time.Hour,
	}
}

// Validate reports every problem with o. It never adjusts a value.
func (o Options) Validate() error {
	var errs []error
	if o.FileMode&^fs.ModePerm != 0 || o.FileMode&0o600 != 0o600 {
		errs = append(errs, fmt.Errorf("posix: options: FileMode %v must be permission bits including owner rw (0600)", o.FileMode))
	}
	if o.DirMode&^fs.ModePerm != 0 || o.DirMode&0o700 != 0o700 {
		errs = append(errs, fmt.Errorf("posix: options: DirMode %v must be permission bits including owner rwx (0700)", o.DirMode))
	}
	if o.StaleTempAge < 0 {
		errs = append(errs, fmt.Errorf("posix: options: StaleTempAge %v is negative (0 disables the sweep)", o.StaleTempAge))
	} else if o.StaleTempAge > 0 && o.StaleTempAge < time.Hour {
		errs = append(errs, fmt.Errorf("posix: options: StaleTempAge %v is under an hour and could delete a live upload of another process", o.StaleTempAge))
	}
	return errors.Join(errs...)
}
