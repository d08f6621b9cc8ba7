# lib.sh -- the harness for ragd's integration tests (sourced by tests/t/*.sh).
#
# Each script is one family of tests printing TAP.  Steps are written as
#   test_expect_success 'what it proves' 'commands'
# and run in the script's shell (so later steps see earlier variables); a
# step passes when its commands exit 0.  Processes are real: start_fakeup and
# start_ragd launch the fake upstream and ragd on ports the OS picks, and
# everything started is stopped when the script exits.  Needs curl, jq and
# Debian's python3 with python3-jsonschema.

set -u
: "${RAGD:?RAGD must point at the ragd binary}"
: "${FAKEUP:?FAKEUP must point at the fakeup binary}"
: "${SRCDIR:?SRCDIR must point at the source tree}"
PY=/usr/bin/python3
TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ragd-test.XXXXXX")
test_count=0
test_failed=0
started_pids=""
cd "$TEST_DIR" || exit 1

test_cleanup() {
	for pid in $started_pids; do
		kill -KILL "$pid" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "$test_failed" -eq 0 ]; then rm -rf "$TEST_DIR"; else echo "# kept $TEST_DIR"; fi
}
trap test_cleanup EXIT

say() { echo "# $*"; }

test_expect_success() {
	test_count=$((test_count + 1))
	if eval "$2" >"$TEST_DIR/step.out" 2>&1 </dev/null; then
		echo "ok $test_count - $1"
		grep '^# ' "$TEST_DIR/step.out" # what the step said (say)
	else
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $1"
		sed 's/^/#   /' "$TEST_DIR/step.out" | tail -n 30
	fi
}

test_skip() {
	test_count=$((test_count + 1))
	echo "ok $test_count - $1 # SKIP $2"
}

test_skip_all() {
	echo "1..0 # SKIP $1"
	exit 0
}

# test_done: print the plan.  Failures are already reported as "not ok"
# lines, so the exit status stays 0; a script that dies early has no plan
# and is reported as an error by the TAP driver.
test_done() {
	echo "1..$test_count"
	exit 0
}

# wait_for_line FILE REGEX: wait up to 20 s for a line matching REGEX in FILE.
wait_for_line() {
	i=0
	while [ $i -lt 400 ]; do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
		i=$((i + 1))
	done
	echo "timed out waiting for /$2/ in $1:"; cat "$1"
	return 1
}

# wait_for CONDITION [SECONDS]: evaluate the shell CONDITION every 50 ms
# until it holds, for at most SECONDS (default 20) of wall-clock time; fail,
# naming the condition, if it never does.  Tests wait this way on what they
# can observe (ragd's /healthz, the fake upstream's /stats, a file), never
# for a guessed time: a loaded machine only makes them slower, not wrong.
wait_for() {
	wf_end=$(($(date +%s) + ${2:-20}))
	while ! eval "$1" >/dev/null 2>&1; do
		if [ "$(date +%s)" -gt "$wf_end" ]; then
			echo "timed out after ${2:-20} s waiting for: $1"
			return 1
		fi
		sleep 0.05
	done
}

# healthz FIELD: a field of ragd's /healthz (live_searches, connections).
healthz() {
	curl -s "$RAGD_URL/healthz" | jq -r ".$1"
}

# live_searches N: ragd has exactly N searches in flight.
live_searches() {
	test "$(healthz live_searches)" = "$1"
}

# fake_stat URL JQ: a fake upstream's /stats satisfies the jq condition JQ,
# e.g. fake_stat "$UP_URL" ".hanging == 3".
fake_stat() {
	curl -s "$1/stats" | jq -e "$2" >/dev/null
}

# start_fakeup NAME [ARGS...]: start a fake upstream; sets NAME_URL, NAME_PID.
start_fakeup() {
	name=$1; shift
	rm -f "$TEST_DIR/$name.out" # a restarted upstream's old ready line must not count
	"$FAKEUP" --listen 127.0.0.1:0 "$@" >"$TEST_DIR/$name.out" 2>"$TEST_DIR/$name.err" &
	pid=$!
	started_pids="$started_pids $pid"
	wait_for_line "$TEST_DIR/$name.out" 'listening on' || return 1
	addr=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$TEST_DIR/$name.out" | head -n1)
	eval "${name}_URL=http://$addr; ${name}_PID=$pid"
}

# start_ragd [ARGS...]: start `ragd serve` on a free port; sets RAGD_URL,
# RAGD_PID, RAGD_LOG.
start_ragd() {
	RAGD_LOG="$TEST_DIR/ragd.$test_count.log"
	# A ready line left by an earlier ragd of the same step must not count.
	rm -f "$RAGD_LOG.out"
	"$RAGD" serve --listen 127.0.0.1:0 ${RAGD_TEST_LOOPS:+--loops "$RAGD_TEST_LOOPS"} "$@" >"$RAGD_LOG.out" 2>"$RAGD_LOG" &
	RAGD_PID=$!
	started_pids="$started_pids $RAGD_PID"
	wait_for_line "$RAGD_LOG.out" 'listening on' || { cat "$RAGD_LOG"; return 1; }
	RAGD_URL=http://$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$RAGD_LOG.out" | head -n1)
}

# exited PID: the process is gone or a zombie (it has exited, unreaped).
exited() {
	! [ -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# stop_ragd: SIGTERM ragd, expect a clean exit and no sanitizer report.  The
# wait is bounded (ragd's own grace period is 5 s): a ragd that never exits
# fails the step instead of hanging the suite.
stop_ragd() {
	kill -TERM "$RAGD_PID" || return 1
	if ! wait_for "exited $RAGD_PID" 60; then
		kill -KILL "$RAGD_PID"; wait "$RAGD_PID"
		echo "ragd did not exit within 60 s of SIGTERM"; cat "$RAGD_LOG"; return 1
	fi
	wait "$RAGD_PID"; rc=$?
	if [ $rc -ne 0 ]; then echo "ragd exited $rc"; cat "$RAGD_LOG"; return 1; fi
	no_sanitizer_report "$RAGD_LOG"
}

# no_sanitizer_report FILE: fail when FILE holds an ASan/UBSan/LSan report.
no_sanitizer_report() {
	if grep -Eq 'AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:' "$1"; then
		cat "$1"; return 1
	fi
}

# post_search JSON [OUT]: POST to /search; prints the HTTP status, body in OUT
# (default $TEST_DIR/out.json).
post_search() {
	curl -s -o "${2:-$TEST_DIR/out.json}" -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary "$1" "$RAGD_URL/search"
}

# validate [--sse] SCHEMA FILE...: check JSON documents (or, with --sse, the
# events of a text/event-stream) against schemas/SCHEMA.schema.json.
validate() {
	schema=$1; shift
	if [ "$schema" = --sse ]; then schema=$1; shift; set -- --sse "$SRCDIR/schemas/$schema.schema.json" "$@"; else set -- "$SRCDIR/schemas/$schema.schema.json" "$@"; fi
	"$PY" "$SRCDIR/tests/validate.py" "$@"
}

# ingest_fixture DB: build a store from the small test corpus.
ingest_fixture() {
	"$RAGD" ingest --db "$1" "$SRCDIR/tests/data/corpus.jsonl" >/dev/null
}

# fake_control URL JSON: change a fake upstream's behaviour (see the comment
# at the top of tests/fakeup/fakeup.c).
fake_control() {
	curl -sf -H 'Content-Type: application/json' --data-binary "$2" "$1/_control" >/dev/null
}
