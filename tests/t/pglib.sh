# A throwaway PostgreSQL cluster for the tests that need one: sourced after
# lib.sh.  Skips the whole test when PostgreSQL is not installed.  The
# cluster lives in its own temporary directory, owned by the user that
# runs it (nobody when the tests run as root: PostgreSQL refuses root),
# listens only on a Unix socket there, and is stopped and removed at exit.
# Sets URL (the database as ragd's --store takes it).
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
[ -x "$PGBIN/initdb" ] || test_skip_all "PostgreSQL not found at $PGBIN (apt-get install postgresql)"

PGDIR=$(mktemp -d /tmp/ragd-pg.XXXXXX) || exit 1
if [ "$(id -u)" -eq 0 ]; then
	chown nobody "$PGDIR"
	as_pg() { (cd / && runuser -u nobody -- "$@"); }
else
	as_pg() { "$@"; }
fi
URL="postgresql://ragd@/postgres?host=$PGDIR&port=5432"

# pg_init: create the cluster (user ragd, trusted on its socket) and start it.
pg_init() {
	as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U ragd --auth=trust -E UTF8 --no-sync \
		>"$PGDIR/initdb.log" 2>&1 || { cat "$PGDIR/initdb.log"; return 1; }
	pg_start
}
pg_start() {
	as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w -t 60 \
		-o "-c listen_addresses='' -k $PGDIR -p 5432 -c fsync=off" start >/dev/null
}
pg_stop() {
	as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null
}
# pg_cleanup [CMD]: run CMD, stop the cluster, remove it, then lib.sh's cleanup.
pg_cleanup() {
	"$@"
	[ -f "$PGDIR/data/postmaster.pid" ] && pg_stop
	rm -rf "$PGDIR"
	test_cleanup
}
trap pg_cleanup EXIT
