package metadata

import "errors"

// Sentinel errors. Backends wrap them with context; test with errors.Is.
var (
	// ErrNotFound: no such space, node, or name in a folder.
	ErrNotFound = errors.New("metadata: not found")
	// ErrExist: the name is taken, or the node or space already exists.
	ErrExist = errors.New("metadata: already exists")
	// ErrCorrupt: a record cannot be decoded or breaks the format's rules.
	ErrCorrupt = errors.New("metadata: corrupt record")
	// ErrInvalidName: a name is empty, ".", "..", contains '/' or NUL, is
	// longer than MaxNameLen bytes, or is not valid UTF-8.
	ErrInvalidName = errors.New("metadata: invalid name")
	// ErrInvalidID: an id is not a lower-case hyphenated UUID.
	ErrInvalidID = errors.New("metadata: invalid id")
	// ErrNotDir: a folder operation named a file.
	ErrNotDir = errors.New("metadata: not a folder")
	// ErrIsDir: a file operation named a folder.
	ErrIsDir = errors.New("metadata: is a folder")
	// ErrCycle: a move would put a folder inside itself.
	ErrCycle = errors.New("metadata: folder cannot move into itself")
	// ErrTooLarge: a record would exceed what the store can hold.
	ErrTooLarge = errors.New("metadata: too large")
	// ErrRoot: the operation is not allowed on a space root (moving,
	// renaming or deleting it).
	ErrRoot = errors.New("metadata: operation not allowed on a space root")
)
