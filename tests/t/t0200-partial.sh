#!/bin/sh
# Partial failure: whatever the web upstream does (slow, 5xx, refused,
# garbage, truncated, reset), the answer comes back from the other sources,
# says what happened to web, and sets partial.
. "$SRCDIR/tests/t/lib.sh"
# web fails over and over on purpose here, and its requests are counted: no
# circuit breaker (it would skip web) and no hedging (it would add requests).
DB=$TEST_DIR/p.db

# web_fails_with WORD: after a query, web is "error" (or $2) with WORD in its
# error, the local sources answered, and partial is set.  The deadline is
# 3 s when web is to time out, else 30 s: web fails at once, and the local
# sources must answer however busy the machine is.
web_fails_with() {
	deadline=30000; [ "${2:-error}" = timeout ] && deadline=3000
	test "$(post_search "{\"query\":\"volcano lava\",\"timeout_ms\":$deadline}")" = 200 || return 1
	test "$(jq -r .sources.web.status out.json)" = "${2:-error}" || { cat out.json; return 1; }
	jq -r .sources.web.error out.json | grep -qi -- "$1" || { cat out.json; return 1; }
	test "$(jq .partial out.json)" = true &&
	test "$(jq -r .sources.kb.status out.json)" = ok &&
	test "$(jq -r .sources.vector.status out.json)" = ok &&
	test "$(jq -r .contexts[0].id out.json)" = d07 &&
	test "$(jq "[.contexts[] | select(.source == \"web\")] | length" out.json)" = 0 &&
	validate search-response out.json
}

test_expect_success 'setup' '
	ingest_fixture "$DB" && start_fakeup UP &&
	start_ragd --db "$DB" --web-url "$UP_URL" --breaker-failures 0 --hedge-share 0
'
# The deadline steps keep every timing check 10 times away from what could
# make it fail: the upstream is 20 times slower than the deadline, and the
# web source's latency (counted from its launch, a little after the request's
# deadline started) must be at least half the deadline, proving it was not
# cut early, and under 10 times it, proving it was not waited for.
test_expect_success 'web slow: timeout at the deadline, partial, local results kept' '
	fake_control "$UP_URL" "{\"delay_ms\":60000}" &&
	web_fails_with "within" timeout &&
	lat=$(jq .sources.web.latency_ms out.json) && ret=$(jq .timing_ms.retrieval out.json) &&
	say "web latency $lat ms, retrieval $ret ms (deadline 3000)" &&
	jq -e ".sources.web.latency_ms >= 1500 and .timing_ms.retrieval >= .sources.web.latency_ms" out.json >/dev/null &&
	jq -e ".timing_ms.retrieval < 30000" out.json >/dev/null
'
test_expect_success 'the request deadline cuts web: timeout at 200 ms' '
	test "$(post_search "{\"query\":\"volcano\",\"timeout_ms\":200}")" = 200 &&
	test "$(jq -r .sources.web.status out.json)" = timeout &&
	jq -e ".sources.web.latency_ms >= 100 and .timing_ms.retrieval < 2000" out.json >/dev/null
'
test_expect_success 'web 5xx: error naming the status' '
	fake_control "$UP_URL" "{\"reset\":true}" && fake_control "$UP_URL" "{\"mode\":\"fail\",\"status\":503}" &&
	web_fails_with "HTTP 503"
'
test_expect_success 'web 4xx: error naming the status' '
	fake_control "$UP_URL" "{\"mode\":\"fail\",\"status\":429}" && web_fails_with "HTTP 429"
'
test_expect_success 'web garbage: error naming malformed JSON' '
	fake_control "$UP_URL" "{\"mode\":\"garbage\"}" && web_fails_with "malformed JSON"
'
test_expect_success 'web truncated body: error' '
	fake_control "$UP_URL" "{\"mode\":\"truncate\"}" && web_fails_with "JSON"
'
test_expect_success 'web resets the connection: error' '
	fake_control "$UP_URL" "{\"mode\":\"reset\"}" && web_fails_with "."
'
test_expect_success 'web hangs: timeout, and the server moves on' '
	fake_control "$UP_URL" "{\"mode\":\"hang\"}" && web_fails_with "within" timeout
'
test_expect_success 'web recovers: ok again on the same server' '
	fake_control "$UP_URL" "{\"reset\":true}" &&
	test "$(post_search "{\"query\":\"volcano lava\"}")" = 200 &&
	test "$(jq -r .sources.web.status out.json)" = ok && test "$(jq .partial out.json)" = false
'
test_expect_success 'web connection refused: error' '
	stop_ragd && kill "$UP_PID" && wait "$UP_PID" 2>/dev/null;
	start_ragd --db "$DB" --web-url "$UP_URL" --breaker-failures 0 --hedge-share 0 &&
	web_fails_with "connect"
'
test_expect_success 'every source failing: still 200, no contexts, partial' '
	stop_ragd && start_fakeup DOWN --mode fail &&
	cp "$DB" "$TEST_DIR/gone.db" && start_ragd --db "$TEST_DIR/gone.db" --web-url "$DOWN_URL" --breaker-failures 0 &&
	mv "$TEST_DIR/gone.db" "$TEST_DIR/moved.db" && rm -f "$TEST_DIR/gone.db-wal" "$TEST_DIR/gone.db-shm" &&
	test "$(post_search "{\"query\":\"volcano lava\"}")" = 200 &&
	jq -e ".sources.web.status == \"error\" and .sources.kb.status == \"error\" and .sources.vector.status == \"error\"" out.json >/dev/null &&
	test "$(jq ".contexts | length" out.json)" = 0 && test "$(jq .partial out.json)" = true &&
	validate search-response out.json &&
	stop_ragd
'
test_done
