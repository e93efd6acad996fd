package pgtest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestTiming(t *testing.T) {
	start := time.Now()
	dsn := New(t)
	t.Logf("first New: %v", time.Since(start))
	for range 5 {
		start = time.Now()
		New(t)
		t.Logf("New: %v", time.Since(start))
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, "select $1::uuid::text", "5e3b9c1a-0d2f-4a6b-8c7d-9e0f1a2b3c4d").Scan(&s); err != nil {
		t.Fatal(err)
	}
	conn.Exec(ctx, "create table x (id uuid primary key)")
	if _, err := conn.Exec(ctx, "insert into x values ($1)", "5e3b9c1a-0d2f-4a6b-8c7d-9e0f1a2b3c4d"); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "select id from x where id = $1", "5e3b9c1a-0d2f-4a6b-8c7d-9e0f1a2b3c4d").Scan(&s); err != nil {
		t.Fatal(err)
	}
	t.Log(s, strings.Repeat("", 0))
}
