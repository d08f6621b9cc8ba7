#!/bin/sh
# Hedged requests: a web source's request that has no answer by the
# instance's p95 latency (at least hedge_floor_ms) is sent again; the first
# answer wins, the other transfer is abandoned, and the source's entry says
# "hedged": true.  Hedges are limited to hedge_share of the requests.
. "$SRCDIR/tests/t/lib.sh"

# up_requests: the fake upstream's request count.
up_requests() {
	curl -s "$UP_URL/stats" | jq .requests
}

# fast_searches N: N searches answered at once, none hedged.  An instance
# hedges only once it has a p95, from 20 answers.
fast_searches() {
	i=0
	while [ $i -lt "$1" ]; do
		i=$((i + 1))
		test "$(post_search "{\"query\":\"volcano $i\",\"timeout_ms\":10000}")" = 200 &&
		test "$(jq -r .sources.web.status out.json)" = ok &&
		test "$(jq -r ".sources.web.hedged // false" out.json)" = false || return 1
	done
}

test_expect_success 'setup' '
	start_fakeup UP &&
	cat >cfg.json <<-JSON &&
	{"sources": [{"name": "web", "type": "web", "url": "$UP_URL",
	  "hedge_share": 1, "hedge_floor_ms": 1500}]}
	JSON
	validate config cfg.json && start_ragd --config cfg.json
'
test_expect_success 'no hedge when answers are fast' '
	fake_control "$UP_URL" "{\"reset_stats\":true}" &&
	fast_searches 25 && test "$(up_requests)" = 25
'
test_expect_success 'a slow request is hedged, the hedge wins and the loser is abandoned' '
	fake_control "$UP_URL" "{\"reset_stats\":true,\"mode\":\"hang\"}" &&
	{ post_search "{\"query\":\"volcano\",\"timeout_ms\":20000}" slow.json >slow.code & } &&
	wait_for "fake_stat \"$UP_URL\" \".hanging == 1\"" &&
	fake_control "$UP_URL" "{\"reset\":true}" &&
	wait_for "test -s slow.code" &&
	test "$(cat slow.code)" = 200 &&
	test "$(jq -r .sources.web.status slow.json)" = ok &&
	test "$(jq -r .sources.web.hedged slow.json)" = true &&
	validate search-response slow.json &&
	test "$(up_requests)" = 2 &&
	wait_for "fake_stat \"$UP_URL\" \".abandoned == 1 and .hanging == 0\""
'
test_expect_success 'the hedges are counted in /metrics' '
	curl -s "$RAGD_URL/metrics" >m.txt &&
	grep -q "^ragd_source_hedges_total{source=\"web\",outcome=\"sent\"} 1$" m.txt &&
	grep -q "^ragd_source_hedges_total{source=\"web\",outcome=\"won\"} 1$" m.txt
'
test_expect_success 'stop' 'stop_ragd'

# timed_out_searches N: N searches, in each of which web timed out.
timed_out_searches() {
	for i in $(seq "$1"); do
		test "$(post_search "{\"query\":\"q$i\",\"timeout_ms\":300}")" = 200 &&
		test "$(jq -r .sources.web.status out.json)" = timeout || return 1
	done
}

# Once the instance has a p95, every request hangs until its search times
# out, so every one would be hedged after the floor if the budget let it:
# over the 32 requests at a share of 0.25, at most 8 hedges are sent.
test_expect_success 'the share limits the hedges' '
	cat >share.json <<-JSON &&
	{"sources": [{"name": "web", "type": "web", "url": "$UP_URL",
	  "hedge_share": 0.25, "hedge_floor_ms": 20, "breaker_failures": 0}]}
	JSON
	start_ragd --config share.json && fast_searches 20 &&
	fake_control "$UP_URL" "{\"reset_stats\":true,\"mode\":\"hang\"}" &&
	timed_out_searches 12 &&
	wait_for "fake_stat \"$UP_URL\" \".hanging == 0\"" &&
	n=$(up_requests) && say "12 searches, $n upstream requests" &&
	test "$n" -gt 12 && test "$n" -le 20 &&
	curl -s "$RAGD_URL/metrics" >m2.txt &&
	grep -q "^ragd_source_hedges_total{source=\"web\",outcome=\"sent\"} $((n - 12))$" m2.txt &&
	fake_control "$UP_URL" "{\"reset\":true}" && stop_ragd
'
test_expect_success 'hedge_share 0 turns hedging off' '
	cat >off.json <<-JSON &&
	{"sources": [{"name": "web", "type": "web", "url": "$UP_URL",
	  "hedge_share": 0, "hedge_floor_ms": 0}]}
	JSON
	start_ragd --config off.json && fast_searches 20 &&
	fake_control "$UP_URL" "{\"reset_stats\":true,\"mode\":\"hang\"}" &&
	test "$(post_search "{\"query\":\"q\",\"timeout_ms\":300}")" = 200 &&
	wait_for "fake_stat \"$UP_URL\" \".hanging == 0\"" &&
	test "$(up_requests)" = 1 &&
	fake_control "$UP_URL" "{\"reset\":true}" && stop_ragd
'
test_expect_success 'a bad hedge key is refused at startup, naming it' '
	cat >bad.json <<-JSON &&
	{"sources": [{"name": "web", "type": "web", "url": "$UP_URL", "hedge_share": 2}]}
	JSON
	! "$RAGD" serve --listen 127.0.0.1:0 --config bad.json 2>bad.err &&
	grep -q "hedge_share" bad.err
'
test_done
