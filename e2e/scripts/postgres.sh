# Sourced, not run: PostgreSQL's server binaries, which internal/pgtest
# starts a throwaway server with (e2e's TestPostgresPoolExhausted, and
# guardsql's and guardpgx's own PostgreSQL tests). Used by .ci/run.

# have_postgresql tells whether initdb, pg_ctl and postgres are in one
# directory, where pgtest looks: $GUARDSQL_PG_BIN, pg_ctl's on $PATH, or
# Debian's /usr/lib/postgresql/<version>/bin.
have_postgresql() {
  local d dirs=()
  if [ -n "${GUARDSQL_PG_BIN:-}" ]; then
    dirs=("$GUARDSQL_PG_BIN")
  else
    if command -v pg_ctl >/dev/null; then
      dirs+=("$(dirname "$(readlink -f "$(command -v pg_ctl)")")" "$(dirname "$(command -v pg_ctl)")")
    fi
    for d in /usr/lib/postgresql/*/bin; do dirs+=("$d"); done
  fi
  for d in "${dirs[@]}"; do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] && return 0
  done
  return 1
}

# need_postgresql installs PostgreSQL when its server binaries are missing,
# with apt-get as root (Debian's package is postgresql; it also creates the
# postgres user that pgtest runs the server as when run as root), and fails
# saying how otherwise.
need_postgresql() {
  have_postgresql && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing PostgreSQL (apt-get install postgresql) for the PostgreSQL tests" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    return
  fi
  echo "needs PostgreSQL's server binaries (Debian: sudo apt-get install -y postgresql)" >&2
  return 1
}
