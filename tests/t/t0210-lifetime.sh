#!/bin/sh
# Lifetimes: a client that leaves mid-request, and source results that
# arrive after their request was answered, are dropped safely (the suite runs
# under ASan with --enable-sanitizers; stop_ragd fails on any report).
. "$SRCDIR/tests/t/lib.sh"
DB=$TEST_DIR/l.db

test_expect_success 'setup' '
	ingest_fixture "$DB" && start_fakeup UP && start_ragd --db "$DB" --web-url "$UP_URL"
'
test_expect_success 'a client that disconnects mid-request does not hurt the server' '
	fake_control "$UP_URL" "{\"delay_ms\":800}" &&
	curl -s -m 0.2 -H "Content-Type: application/json" --data "{\"query\":\"volcano\",\"timeout_ms\":2000}" "$RAGD_URL/search";
	sleep 0.1 && curl -sf "$RAGD_URL/healthz" >/dev/null
'
test_expect_success 'the abandoned search is freed, not kept until its deadline' '
	i=0; while [ $i -lt 40 ]; do
		test "$(curl -s "$RAGD_URL/healthz" | jq .live_searches)" = 0 && break
		sleep 0.05; i=$((i + 1))
	done; test $i -lt 40
'
test_expect_success '50 clients leaving at once while sources are slow' '
	pids=""; for i in $(seq 50); do
		curl -s -m 0.1 -H "Content-Type: application/json" --data "{\"query\":\"lava $i\",\"timeout_ms\":1500}" "$RAGD_URL/search" >/dev/null &
		pids="$pids $!"
	done; wait $pids;
	test "$(post_search "{\"query\":\"volcano\",\"sources\":[\"kb\"]}")" = 200
'
test_expect_success 'late web results after the answer are dropped safely' '
	pids=""; for i in $(seq 20); do
		post_search "{\"query\":\"volcano $i\",\"timeout_ms\":100}" r$i.json >/dev/null &
		pids="$pids $!"
	done; wait $pids &&
	for i in $(seq 20); do test "$(jq -r .sources.web.status r$i.json)" = timeout || exit 1; done &&
	sleep 1 && curl -sf "$RAGD_URL/healthz" >/dev/null
'
test_expect_success 'shutdown while searches are in flight is clean' '
	pids=""; for i in $(seq 10); do
		post_search "{\"query\":\"magma $i\",\"timeout_ms\":3000}" o$i.json >/dev/null &
		pids="$pids $!"
	done; sleep 0.2 && stop_ragd && wait $pids &&
	for i in $(seq 10); do
		test "$(jq -r ".error.code // .sources.web.status" o$i.json)" = shutting_down ||
		test "$(jq -r ".sources.web.status" o$i.json)" = ok || { cat o$i.json; exit 1; }
	done
'
test_done
