package guardsql

import (
	"strings"
	"testing"
)

// TestDefaultPoolName: the default pool name takes the host, port and
// database of a data source name, never its user, password or other
// parameters.
func TestDefaultPoolName(t *testing.T) {
	for _, c := range []struct{ driver, dsn, want string }{
		{"pgx", "postgres://app:s3cret@127.0.0.1:5432/app?sslmode=disable&password=s3cret", "pgx 127.0.0.1:5432/app"},
		{"pgx", "postgres://app:s3cret@db.internal/app", "pgx db.internal/app"},
		{"pgx", "postgres://app:s3cret@h1:5432,h2:5433/app", "pgx h1:5432,h2:5433/app"},
		{"pgx", "postgres://app:p@ss@db/app", "pgx db/app"},
		{"pgx", "postgres:///app?host=/run/postgresql", "pgx"},
		{"pgx", "host=127.0.0.1 port=5432 user=app password=s3cret dbname=app sslmode=disable", "pgx 127.0.0.1:5432/app"},
		{"postgres", "user=app password=s3cret host=db", "postgres db"},
		{"pgx", "host=db password='a host=s3cret b'", "pgx"},
		{"pgx", "password=s3cret", "pgx"},
		{"sqlserver", "sqlserver://sa:s3cret@localhost:1433?database=app", "sqlserver localhost:1433"},
		{"mysql", "app:s3cret@tcp(127.0.0.1:3306)/app?parseTime=true", "mysql"},
		{"sqlite", "/var/lib/app/data.db", "sqlite"},
		{"sqlite", "file:data.db?_pragma=busy_timeout(5000)", "sqlite"},
		{"sqlite", ":memory:", "sqlite"},
		{"sqlite", "", "sqlite"},
		{"pgx", "postgres://%zz@db/app", "pgx"},
	} {
		got := defaultPoolName(c.driver, c.dsn)
		if got != c.want {
			t.Errorf("defaultPoolName(%q, %q) = %q, want %q", c.driver, c.dsn, got, c.want)
		}
		if strings.Contains(got, "s3cret") {
			t.Errorf("defaultPoolName(%q, %q) = %q: holds the password", c.driver, c.dsn, got)
		}
	}
}
