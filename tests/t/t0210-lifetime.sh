#!/bin/sh
# Lifetimes: a client that leaves mid-request, and source results that
# arrive after their request was answered, are dropped safely (the suite runs
# under ASan with --enable-sanitizers; stop_ragd fails on any report).  The
# fake web upstream holds its requests (mode hang) so that every step knows,
# from ragd's /healthz and the upstream's /stats, that its searches are in
# flight before it acts, and releases them when it wants answers.
. "$SRCDIR/tests/t/lib.sh"
# web fails over and over on purpose here, and its requests are counted: no
# circuit breaker (it would skip web) and no hedging (it would add requests).
DB=$TEST_DIR/l.db

# search_bg N QUERY TIMEOUT_MS: start N searches in the background, each
# writing bg$i.json; their pids are in $pids.
search_bg() {
	pids=""
	for i in $(seq "$1"); do
		curl -s -m 120 -o "bg$i.json" -H "Content-Type: application/json" \
			--data "{\"query\":\"$2 $i\",\"timeout_ms\":$3}" "$RAGD_URL/search" &
		pids="$pids $!"
	done
}

test_expect_success 'setup' '
	ingest_fixture "$DB" && start_fakeup UP && start_ragd --db "$DB" --web-url "$UP_URL" --breaker-failures 0 --hedge-share 0
'
test_expect_success 'a client that disconnects mid-request does not hurt the server' '
	fake_control "$UP_URL" "{\"mode\":\"hang\"}" &&
	search_bg 1 volcano 60000 &&
	wait_for "live_searches 1 && fake_stat $UP_URL .hanging==1" &&
	kill $pids && { wait $pids || :; } &&
	curl -sf "$RAGD_URL/healthz" >/dev/null
'
test_expect_success 'the abandoned search is freed, not kept until its deadline' '
	wait_for "live_searches 0" 6 &&
	wait_for "fake_stat $UP_URL .hanging==0" 6
'
test_expect_success '50 clients leaving at once while sources are slow' '
	search_bg 50 lava 60000 &&
	wait_for "live_searches 50 && fake_stat $UP_URL .hanging==50" &&
	kill $pids && { wait $pids || :; } &&
	wait_for "live_searches 0" 6 &&
	test "$(post_search "{\"query\":\"volcano\",\"sources\":[\"kb\"]}")" = 200
'
test_expect_success 'late web results after the answer are dropped safely' '
	fake_control "$UP_URL" "{\"reset_stats\":true}" &&
	pids=""; for i in $(seq 20); do
		post_search "{\"query\":\"volcano $i\",\"timeout_ms\":100}" r$i.json >/dev/null &
		pids="$pids $!"
	done; wait $pids &&
	for i in $(seq 20); do test "$(jq -r .sources.web.status r$i.json)" = timeout || exit 1; done &&
	fake_control "$UP_URL" "{\"release\":true}" &&
	wait_for "fake_stat $UP_URL .active==0" &&
	curl -sf "$RAGD_URL/healthz" >/dev/null && live_searches 0
'
test_expect_success 'shutdown while searches are in flight answers each of them and is clean' '
	search_bg 10 magma 60000 &&
	wait_for "live_searches 10 && fake_stat $UP_URL .hanging==10" &&
	kill -TERM "$RAGD_PID" &&
	wait_for "! curl -s $RAGD_URL/healthz" &&
	fake_control "$UP_URL" "{\"release\":true}" && wait_for "exited $RAGD_PID" 60 &&
	{ wait "$RAGD_PID"; rc=$?; wait $pids; test $rc = 0 || { echo "ragd exited $rc"; cat "$RAGD_LOG"; false; }; } &&
	no_sanitizer_report "$RAGD_LOG" &&
	for i in $(seq 10); do
		test "$(jq -r .error.code bg$i.json)" = shutting_down ||
		test "$(jq -r .sources.web.status bg$i.json)" = ok || { cat bg$i.json; exit 1; }
	done
'
test_done
