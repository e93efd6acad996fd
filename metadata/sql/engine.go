package sqlmeta

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// engine is what differs between PostgreSQL and SQLite below the Backend:
// how statements are sent, how transactions are run, how errors are
// classified. Statements are written once, in the dialect both engines
// share, with a few markers that dialect replaces (see schema.go).
type engine interface {
	// query runs one statement outside an explicit transaction (its own
	// transaction) and calls fn for every row.
	query(ctx context.Context, q string, args []any, fn rowFunc) error
	// exec runs one statement outside an explicit transaction and returns
	// the number of rows it changed.
	exec(ctx context.Context, q string, args ...any) (int64, error)
	// begin starts a write transaction.
	begin(ctx context.Context) (txn, error)
	// classify turns an engine error into a sentinel where one applies
	// (errUnique, errRetry, ErrCorrupt) and returns it, or err unchanged.
	classify(err error) error
	close()
}

// txn is a write transaction.
type txn interface {
	query(ctx context.Context, q string, args []any, fn rowFunc) error
	exec(ctx context.Context, q string, args ...any) (int64, error)
	// queue adds a statement whose result the caller does not need to
	// decide anything before the next query, exec or commit: PostgreSQL
	// sends it with that next one, saving a round trip. An error of a
	// queued statement is returned by that next call.
	queue(q string, args ...any)
	commit(ctx context.Context) error
	rollback()
}

// rowFunc receives the rows of a query one by one; scan fills its
// arguments from the current row's columns.
type rowFunc func(scan func(dest ...any) error) error

var (
	// errUnique: a statement broke a unique constraint (a taken name or
	// id).
	errUnique = errors.New("sqlmeta: unique constraint")
	// errRetry: the engine gave up on a transaction that may succeed when
	// run again (serialization failure, deadlock, busy database).
	errRetry = errors.New("sqlmeta: transient conflict")
)

// maxAttempts bounds how often a transaction is run again after errRetry.
const maxAttempts = 50

// retry runs op until it succeeds, fails with a non-transient error, or
// has failed maxAttempts times, with a short randomized pause between
// attempts so that the parties to a conflict do not meet again at once.
func retry(ctx context.Context, what string, op func() error) error {
	for attempt := 1; ; attempt++ {
		err := op()
		if !errors.Is(err, errRetry) {
			return err
		}
		if attempt == maxAttempts {
			return fmt.Errorf("sqlmeta: %s: gave up after %d attempts: %w", what, attempt, err)
		}
		pause := time.Duration(rand.Int64N(int64(min(attempt, 10)) * int64(200*time.Microsecond)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
}

// inTx runs fn in a write transaction and commits it, running it again
// when the engine reports a transient conflict. fn must not have effects
// outside the transaction.
func (b *Backend) inTx(ctx context.Context, what string, fn func(tx txn) error) error {
	return retry(ctx, what, func() error {
		tx, err := b.eng.begin(ctx)
		if err != nil {
			return b.eng.classify(err)
		}
		if err := fn(tx); err != nil {
			tx.rollback()
			return b.eng.classify(err)
		}
		if err := tx.commit(ctx); err != nil {
			tx.rollback()
			return b.eng.classify(err)
		}
		return nil
	})
}

// queryRow runs q and scans its only row into dest; found is false when it
// returned no row.
func queryRow(ctx context.Context, q func(context.Context, string, []any, rowFunc) error, sql string, args []any, dest ...any) (found bool, err error) {
	err = q(ctx, sql, args, func(scan func(...any) error) error {
		if found {
			return fmt.Errorf("sqlmeta: more than one row from %.40q", sql)
		}
		found = true
		return scan(dest...)
	})
	return found, err
}
