#!/bin/sh
# Several event loops (--loops): every loop takes connections on the one
# address and answers searches, document writes from any loop reach the job
# runner, a reload and a key rotation reach every loop, clients that leave
# and a shutdown with searches in flight on every loop end cleanly, and the
# address is not shared with another ragd by accident.
. "$SRCDIR/tests/t/lib.sh"
# This test says how many loops each ragd serves on, whatever the suite asks.
unset RAGD_TEST_LOOPS
DB=$TEST_DIR/l.db
KEY1=k-loops-first-0123456789
KEY2=k-loops-second-0123456789

keys() {
	printf '{"keys": [{"name": "app", "key": "%s", "scopes": ["search", "write"]}]}\n' "$1" \
		>keys.json && chmod 600 keys.json
}

# loops_taken: how many event loops have taken at least one request.
loops_taken() {
	curl -s "$RAGD_URL/metrics" | awk '/^ragd_loop_requests_total/ && $2 > 0' | wc -l
}

# searches N KEY [QUERY]: N searches, each on a connection of its own, 16
# at a time; their statuses, one per line, in codes.txt.
searches() {
	seq "$1" | xargs -P 16 -I{} curl -s -o /dev/null -w "%{http_code}\n" \
		-H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
		--data-binary "{\"query\":\"${3:-volcano} {}\",\"generate\":false}" \
		"$RAGD_URL/search" >codes.txt
}

# all_codes CODE N: codes.txt holds N lines, all CODE.
all_codes() {
	test "$(sort -u codes.txt)" = "$1" && test "$(wc -l <codes.txt)" -eq "$2" ||
	{ sort codes.txt | uniq -c; return 1; }
}

test_expect_success 'setup: store, web upstream, ragd on four loops' '
	ingest_fixture "$DB" && start_fakeup UP && keys "$KEY1" &&
	cat >cfg.json <<-JSON &&
	{"db": "$DB", "api_keys_file": "keys.json", "loops": 4, "breaker_failures": 0,
	 "hedge_share": 0,
	 "sources": [{"name": "kb", "type": "kb"}, {"name": "vector", "type": "vector"},
	             {"name": "web", "type": "web", "url": "$UP_URL"}]}
	JSON
	validate config cfg.json && start_ragd --config cfg.json &&
	grep -q "serving on 4 event loops" "$RAGD_LOG"
'
test_expect_success 'searches on their own connections spread over the loops, all answered' '
	searches 96 "$KEY1" && all_codes 200 96 &&
	test "$(loops_taken)" -ge 3 &&
	say "$(curl -s "$RAGD_URL/metrics" | grep "^ragd_loop_requests_total" | sort | paste -sd" ")"
'
test_expect_success 'every source answers on every loop' '
	seq 24 | xargs -P 12 -I{} curl -s -o r{}.json -H "Authorization: Bearer $KEY1" \
		"$RAGD_URL/search?q=volcano+{}&generate=false" &&
	for f in r*.json; do
		jq -e ".sources.kb.status == \"ok\" and .sources.vector.status == \"ok\" and
		       .sources.web.status == \"ok\"" "$f" >/dev/null || { cat "$f"; return 1; }
	done
'
# post_doc I: POST a document on a connection of its own; 202 expected.
post_doc() {
	curl -s -o /dev/null -w "%{http_code}\n" -H "Authorization: Bearer $KEY1" \
		-H "Content-Type: application/json" \
		--data-binary "{\"documents\":[{\"id\":\"loop-doc-$1\",\"text\":\"Quokkaloop number $1 lives here.\"}]}" \
		"$RAGD_URL/documents"
}
jobs_done() {
	test "$(curl -s -H "Authorization: Bearer $KEY1" "$RAGD_URL/jobs" |
		jq "[.jobs[] | select(.status == \"done\")] | length")" -eq 12
}
# found_everywhere: 16 kb searches on their own connections all find them.
found_everywhere() {
	seq 16 | xargs -P 16 -I{} curl -s -o q{}.json -H "Authorization: Bearer $KEY1" \
		"$RAGD_URL/search?q=quokkaloop&k=12&generate=false&sources=kb" &&
	for f in q*.json; do jq -e ".contexts | length == 12" "$f" >/dev/null || return 1; done
}
test_expect_success 'documents written through any loop reach the job runner and every loop' '
	for i in $(seq 12); do post_doc $i; done >codes.txt && all_codes 202 12 &&
	wait_for jobs_done 60 && wait_for found_everywhere 30
'
test_expect_success 'a reload rotates the key on every loop' '
	keys "$KEY2" && kill -HUP "$RAGD_PID" &&
	wait_for "grep -q \"reload: config loaded\" \"$RAGD_LOG\"" &&
	searches 48 "$KEY2" && all_codes 200 48 &&
	searches 48 "$KEY1" && all_codes 401 48
'
test_expect_success 'clients that leave mid-search free their searches on every loop' '
	fake_control "$UP_URL" "{\"mode\":\"slow\",\"slow_ms\":60000}" &&
	seq 24 | xargs -P 24 -I{} curl -s -o /dev/null --max-time 1 -H "Authorization: Bearer $KEY2" \
		"$RAGD_URL/search?q=leave+{}&generate=false&timeout_ms=20000" ; true &&
	wait_for "live_searches 0" 30
'
# slow_searches N: N searches, left running in the background, each with
# its status in slow{}.txt.
slow_searches() {
	for i in $(seq "$1"); do
		curl -s -o /dev/null -w "%{http_code}" -H "Authorization: Bearer $KEY2" \
			"$RAGD_URL/search?q=drain+$i&generate=false&timeout_ms=20000" >slow$i.txt &
	done
}
# slow_answered N [CODE]: each of the N slow searches has its status (CODE).
slow_answered() {
	for i in $(seq "$1"); do
		test "$(wc -c <slow$i.txt)" -eq 3 && test "$(cat slow$i.txt)" = "${2:-$(cat slow$i.txt)}" ||
		return 1
	done
}
test_expect_success 'a shutdown lets searches in flight on every loop finish, then exits cleanly' '
	fake_control "$UP_URL" "{\"reset\":true,\"delay_ms\":1500}" &&
	slow_searches 16 && wait_for "live_searches 16" 30 &&
	stop_ragd && wait_for "slow_answered 16" 30 && slow_answered 16 200
'
test_expect_success 'another ragd cannot take the address the loops listen on' '
	fake_control "$UP_URL" "{\"reset\":true}" && start_ragd --config cfg.json &&
	port=${RAGD_URL##*:} &&
	"$RAGD" serve --db "$DB" --listen "127.0.0.1:$port" --loops 2 2>err.txt; rc=$? &&
	test $rc -eq 2 && grep -q "cannot listen on 127.0.0.1:$port" err.txt &&
	searches 8 "$KEY2" && all_codes 200 8 && stop_ragd
'
# refused ARGS... -- WORDS...: ragd serve ARGS exits 2 naming every WORD.
refused() {
	args=""; while [ "$1" != -- ]; do args="$args $1"; shift; done; shift
	"$RAGD" serve --db "$DB" --listen 127.0.0.1:0 $args 2>err.txt; rc=$?
	test $rc -eq 2 || { echo "exit $rc"; cat err.txt; return 1; }
	for w in "$@"; do grep -qF -- "$w" err.txt || { cat err.txt; return 1; }; done
}
test_expect_success 'a bad --loops or "loops" is refused with a message' '
	refused --loops 0 -- "--loops" "from 1 to 64, or auto" &&
	refused --loops many -- "--loops" "many" &&
	echo "{\"db\": \"$DB\", \"loops\": \"lots\"}" >bad.json &&
	refused --config bad.json -- "loops: expected an integer from 1 to 64, or \"auto\""
'
test_expect_success 'without SO_REUSEPORT the loops share one listening socket' '
	RAGD_LISTEN_SHARED=1 start_ragd --config cfg.json &&
	grep -q "RAGD_LISTEN_SHARED=1: the loops share one listening socket" "$RAGD_LOG" &&
	searches 64 "$KEY2" && all_codes 200 64 && stop_ragd
'
# cpu_list FILE: the Cpus_allowed_list of a /proc status FILE, one CPU a
# word ("0-2,5" as "0 1 2 5").
cpu_list() {
	sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "$1" | tr ',' '\n' |
	awk -F- '{ for (c = $1; c <= ($2 == "" ? $1 : $2); c++) printf "%s%d", n++ ? " " : "", c }
		END { print "" }'
}
# threads_on NAME: the CPU lists of ragd's threads called NAME, one a line.
threads_on() {
	for t in /proc/$RAGD_PID/task/*; do
		[ "$(cat "$t/comm")" = "$1" ] && cpu_list "$t/status"
	done
}
# pinned_as_said: the main loop and worker 0 on our first CPU, loop 1 and
# worker 1 on our second, each alone; split helpers on all of ours.  (A
# thread pins itself as it starts, so a step waits for this.)
pinned_as_said() {
	set -- $(cpu_list /proc/self/status); all="$*"
	test "$(threads_on ragd)" = "$1" && test "$(threads_on ragd-work0)" = "$1" &&
	test "$(threads_on ragd-loop1)" = "$2" && test "$(threads_on ragd-work1)" = "$2" &&
	test -n "$(threads_on ragd-scan)" &&
	test "$(threads_on ragd-scan | sort -u)" = "$all" || {
		for t in /proc/$RAGD_PID/task/*; do echo "# $(cat $t/comm): $(cpu_list $t/status)"; done
		return 1
	}
}
if [ "$(cpu_list /proc/self/status | wc -w)" -ge 2 ]; then
test_expect_success '--pin-threads: loop i and worker i on the i-th CPU, split helpers on all' '
	start_ragd --config cfg.json --loops 2 --workers 2 --pin-threads &&
	grep -q "pinning loop i and worker i to the i-th of the" "$RAGD_LOG" &&
	{ wait_for pinned_as_said 10 || pinned_as_said; } &&
	searches 32 "$KEY2" && all_codes 200 32 && stop_ragd
'
else
	echo "# one CPU only: --pin-threads has nowhere to pin to; its check skipped"
fi
test_expect_success 'a "pin_threads" that is not true or false is refused' '
	echo "{\"db\": \"$DB\", \"pin_threads\": \"yes\"}" >bad.json &&
	refused --config bad.json -- "pin_threads: expected true or false"
'
test_expect_success 'auto serves on one loop per core' '
	start_ragd --db "$DB" --loops auto &&
	if [ "$(nproc)" -gt 1 ]; then grep -q "serving on $(nproc) event loops" "$RAGD_LOG"; fi &&
	searches 16 "" && all_codes 200 16 && stop_ragd
'
test_done
