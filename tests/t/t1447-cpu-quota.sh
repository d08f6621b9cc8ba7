#!/bin/sh
# A CPU quota sizes ragd: under a cgroup v2 cpu.max of half a CPU, --loops
# auto serves on one loop and ragd says why; with "max" nothing changes.
# The quota is a cgroup tree of the test's own, bind-mounted over the v2
# mount in a user and mount namespace of ragd's own (unshare -rm).
. "$SRCDIR/tests/t/lib.sh"
# This test says how many loops each ragd serves on, whatever the suite asks.
unset RAGD_TEST_LOOPS
DB=$TEST_DIR/q.db
MNT=$(sed -n 's/^[^ ]* [^ ]* [^ ]* [^ ]* \([^ ]*\) .* - cgroup2 .*/\1/p' /proc/self/mountinfo |
	head -n 1)
mkdir -p "$TEST_DIR/cg"

if [ "$(nproc)" -lt 2 ]; then
	test_skip_all "one core: a quota of one changes nothing"
elif [ -z "$MNT" ] || ! grep -q '^0::/' /proc/self/cgroup; then
	test_skip_all "no cgroup v2 hierarchy here"
elif ! unshare -rm sh -c 'mount --bind "$1" "$2"' sh "$TEST_DIR/cg" "$MNT" 2>/dev/null; then
	test_skip_all "cannot bind-mount in a user namespace (unshare -rm)"
fi

# A ragd that sees $TEST_DIR/cg as its cgroup v2 tree: the cgroup it is in
# is not there, so the tree's root holds its quota.
cat >ragd-quota <<EOS
#!/bin/sh
exec unshare -rm sh -c 'mount --bind "\$1" "\$2" && shift 2 && exec "\$@"' \
	sh "$TEST_DIR/cg" "$MNT" "$RAGD" "\$@"
EOS
chmod +x ragd-quota
REAL_RAGD=$RAGD

# under_quota CPU_MAX: ragd started under that cpu.max.
under_quota() {
	printf '%s\n' "$1" >"$TEST_DIR/cg/cpu.max" &&
	RAGD=$TEST_DIR/ragd-quota start_ragd --db "$DB"; rc=$?
	RAGD=$REAL_RAGD
	return $rc
}

search_ok() {
	test "$(post_search '{"query":"volcano","generate":false}')" = 200
}

test_expect_success 'half a CPU: one core, one loop, said once' '
	ingest_fixture "$DB" && under_quota "50000 100000" &&
	grep -q "cpu quota 0.5 cpus: sizing for 1 core (affinity allows $(nproc))" "$RAGD_LOG" &&
	test "$(grep -c "cpu quota" "$RAGD_LOG")" = 1 &&
	! grep -q "event loops" "$RAGD_LOG" && search_ok && stop_ragd
'
test_expect_success '"max": no quota, one loop per core' '
	under_quota "max 100000" && ! grep -q "cpu quota" "$RAGD_LOG" &&
	grep -q "serving on [0-9]* event loops" "$RAGD_LOG" && search_ok && stop_ragd
'
test_done
