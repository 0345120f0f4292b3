package main

import (
	"context"
	"database/sql"
	"net/url"
	"time"

	"github.com/otelguard/otelguard-go/integrations/guardsql"
	"github.com/otelguard/otelguard-go/otelguard"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver: pure Go, no cgo
)

// holdThreshold is how long a rows, transaction or DB.Conn checkout may be
// held before it is reported held too long (a span event and a warning
// with its acquire stack): shorter than any request should take, so that
// an exhausted pool names its holders while requests still wait.
const holdThreshold = 2 * time.Second

// openDB opens the SQLite database in file through guardsql, so that every
// rows and transaction is a lifetime of tracker's, and gives it its tables.
// The code that uses it keeps *sql.DB, *sql.Rows and *sql.Tx: nothing else
// in this service knows that they are watched.
//
// The database is in WAL mode, so that readers never block the writer (a
// leaked rows is a reader that never ends); writers wait for each other up
// to busy_timeout; and a transaction takes the write lock when it begins.
func openDB(ctx context.Context, file string, tracker *otelguard.Tracker) (*sql.DB, error) {
	dsn := "file:" + file + "?" + url.Values{
		"_pragma": {"journal_mode(WAL)", "busy_timeout(5000)"},
		"_txlock": {"immediate"},
	}.Encode()
	db, err := guardsql.Open("sqlite", dsn, guardsql.WithTracker(tracker), guardsql.WithHoldThreshold(holdThreshold))
	if err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// schema creates the tables and their rows, once per database file.
const schema = `
CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
	id INTEGER PRIMARY KEY,
	user_id INTEGER NOT NULL REFERENCES users(id),
	item TEXT NOT NULL,
	status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);
INSERT OR IGNORE INTO users VALUES (1, 'ada'), (2, 'grace');
INSERT OR IGNORE INTO orders VALUES
	(1, 1, 'book', 'shipped'),
	(2, 1, 'lamp', 'cancelled'),
	(3, 1, 'desk', 'shipped'),
	(4, 2, 'chair', 'shipped');
INSERT OR IGNORE INTO accounts VALUES (1, 1000000), (2, 0);
`
