package metadata

import (
	"fmt"
	"strings"
)

// Lock and reservation records hold per-request state: a WebDAV lock, the
// quota held by an upload in progress. Each is a record of its own, small
// and bounded, written and removed by the request that owns it, so that
// what one user does never grows a record that others must read (older
// code kept them in the space record, which two LOCKs with a large owner
// pushed past the read limit, breaking the whole space for everyone).

// MaxLockTokenLen bounds a lock token (ours are "opaquelocktoken:" and a
// UUID).
const MaxLockTokenLen = 256

// ValidateRecord checks the rules every stored lock record obeys.
func (l *Lock) ValidateRecord() error {
	switch {
	case l.Version == 0 || l.Version > FormatVersion:
		return fmt.Errorf("%w: lock %q: format version %d", ErrCorrupt, l.Token, l.Version)
	case l.Token == "" || len(l.Token) > MaxLockTokenLen:
		return fmt.Errorf("%w: lock token of %d bytes", ErrCorrupt, len(l.Token))
	case ValidateID(l.NodeID) != nil:
		return fmt.Errorf("%w: lock %s on node %q", ErrCorrupt, l.Token, l.NodeID)
	case l.Path != "" && !strings.HasPrefix(l.Path, "/"):
		return fmt.Errorf("%w: lock %s on path %q", ErrCorrupt, l.Token, l.Path)
	}
	return nil
}

// EncodeLock returns the bytes of a lock record; ErrTooLarge beyond
// MaxRecordSize.
func EncodeLock(l *Lock) ([]byte, error) {
	if l.Version == 0 {
		l.Version = FormatVersion
	}
	if err := l.ValidateRecord(); err != nil {
		return nil, fmt.Errorf("metadata: refusing to write an invalid record: %w", err)
	}
	return encode(l, "lock "+l.Token, MaxRecordSize)
}

// DecodeLock parses and validates a lock record; failures wrap ErrCorrupt.
func DecodeLock(b []byte) (*Lock, error) {
	l := new(Lock)
	if err := decode(b, l); err != nil {
		return nil, err
	}
	if err := l.ValidateRecord(); err != nil {
		return nil, err
	}
	return l, nil
}

// UnknownFields lists preserved fields this version does not know.
func (l *Lock) UnknownFields() []string { return sortedKeys(l.unknown) }

// ValidateRecord checks the rules every stored reservation record obeys.
func (r *Reservation) ValidateRecord() error {
	switch {
	case r.Version == 0 || r.Version > FormatVersion:
		return fmt.Errorf("%w: reservation %q: format version %d", ErrCorrupt, r.ID, r.Version)
	case ValidateID(r.ID) != nil:
		return fmt.Errorf("%w: reservation id %q", ErrCorrupt, r.ID)
	case r.Bytes < 0:
		return fmt.Errorf("%w: reservation %s of %d bytes", ErrCorrupt, r.ID, r.Bytes)
	}
	return nil
}

// EncodeReservation returns the bytes of a reservation record.
func EncodeReservation(r *Reservation) ([]byte, error) {
	if r.Version == 0 {
		r.Version = FormatVersion
	}
	if err := r.ValidateRecord(); err != nil {
		return nil, fmt.Errorf("metadata: refusing to write an invalid record: %w", err)
	}
	return encode(r, "reservation "+r.ID, MaxRecordSize)
}

// DecodeReservation parses and validates a reservation record; failures
// wrap ErrCorrupt.
func DecodeReservation(b []byte) (*Reservation, error) {
	r := new(Reservation)
	if err := decode(b, r); err != nil {
		return nil, err
	}
	if err := r.ValidateRecord(); err != nil {
		return nil, err
	}
	return r, nil
}

// UnknownFields lists preserved fields this version does not know.
func (r *Reservation) UnknownFields() []string { return sortedKeys(r.unknown) }

// LockEdit is a change of a space's locks (Backend.UpdateLocks).
type LockEdit struct {
	// Put stores these locks, each replacing the lock with its token, if
	// any.
	Put []Lock
	// Delete removes the locks with these tokens; a token that names no
	// lock is ignored.
	Delete []string
}

// ReservationEdit is a change of a space's reservations
// (Backend.UpdateReservations).
type ReservationEdit struct {
	// Put stores these reservations, each replacing the one with its id,
	// if any.
	Put []Reservation
	// Delete removes the reservations with these ids; an id that names
	// none is ignored.
	Delete []string
}

// HasLegacyState reports whether s holds locks or reservations the way
// older code kept them.
func (s *Space) HasLegacyState() bool { return len(s.Locks) > 0 || len(s.Reservations) > 0 }

// TakeLegacyState removes the locks and reservations that older code kept
// in s, and returns those not yet expired at now (ns) as records to store
// (their Version set). The locks keep an empty Path: they stay bound to
// their nodes until a writer of locks gives them one.
func (s *Space) TakeLegacyState(now int64) ([]Lock, []Reservation) {
	var locks []Lock
	for _, l := range s.Locks {
		if l.Expires > now {
			l.Version = FormatVersion
			locks = append(locks, l)
		}
	}
	var res []Reservation
	for _, r := range s.Reservations {
		if r.Expires > now && ValidateID(r.ID) == nil && r.Bytes >= 0 {
			r.Version = FormatVersion
			res = append(res, r)
		}
	}
	s.Locks, s.Reservations = nil, nil
	return locks, res
}

// LegacyLocks returns the unexpired locks older code kept in s, as lock
// records, for readers of a space whose record was not rewritten yet; nil
// if there are none.
func (s *Space) LegacyLocks(now int64) []Lock {
	if len(s.Locks) == 0 {
		return nil
	}
	locks, _ := s.Clone().TakeLegacyState(now)
	return locks
}

// LegacyReservations is LegacyLocks for reservations.
func (s *Space) LegacyReservations(now int64) []Reservation {
	if len(s.Reservations) == 0 {
		return nil
	}
	_, res := s.Clone().TakeLegacyState(now)
	return res
}
