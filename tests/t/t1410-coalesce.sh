#!/bin/sh
# Request coalescing: identical searches in flight at the same time share
# one fan-out (the web upstream sees one request), each client still gets
# its own reply, and one client leaving does not cancel the others'.
. "$SRCDIR/tests/t/lib.sh"

# bg NAME JSON: POST JSON to /search in the background into NAME.json;
# sets NAME_PID.
bg() {
	curl -s -o "$1.json" -H 'Content-Type: application/json' --data-binary "$2" \
		"$RAGD_URL/search" &
	eval "$1_PID=$!"
}

# upstream_searches N: the fake upstream has answered or holds N searches
# since its counters were reset.
upstream_searches() {
	fake_stat "$UP_URL" "(.by_path[\"/search\"] // 0) == $1"
}

Q='"query":"volcano lava","timeout_ms":30000,"generate":false'

# Identical searches coalesce within one event loop (each loop has its own
# table), so this ragd serves on one.
test_expect_success 'setup' '
	start_fakeup UP &&
	cat >cfg.json <<-JSON &&
	{"sources": [{"name": "web", "type": "web", "url": "$UP_URL"}]}
	JSON
	start_ragd --config cfg.json --loops 1
'
test_expect_success 'four identical searches: one upstream request, four replies' '
	fake_control "$UP_URL" "{\"mode\":\"hang\",\"reset_stats\":true}" &&
	bg a "{$Q}" && wait_for "fake_stat \"$UP_URL\" \".hanging == 1\"" &&
	bg b "{$Q}" && bg c "{$Q}" &&
	bg d "{\"query\":\"  volcano   lava \",\"timeout_ms\":30000,\"generate\":false}" &&
	wait_for "live_searches 4" &&
	fake_control "$UP_URL" "{\"release\":true}" &&
	wait "$a_PID" "$b_PID" "$c_PID" "$d_PID" &&
	upstream_searches 1 &&
	for f in a b c d; do
		test "$(jq -r .sources.web.status $f.json)" = ok || return 1
	done &&
	test "$(jq -r .coalesced a.json)" = null &&
	test "$(jq -r .coalesced b.json)" = true &&
	test "$(jq -r .coalesced d.json)" = true &&
	test "$(jq -r .query d.json)" = "  volcano   lava " &&
	test "$(jq -c .contexts a.json)" = "$(jq -c .contexts b.json)" &&
	validate search-response a.json b.json c.json d.json &&
	wait_for "test \$(grep -c \"\\\"coalesced\\\":true\" \"$RAGD_LOG\") -eq 3"
'
test_expect_success 'a different k is a different search: two upstream requests' '
	fake_control "$UP_URL" "{\"reset_stats\":true}" &&
	bg a "{$Q,\"k\":3}" && bg b "{$Q,\"k\":4}" &&
	wait_for "fake_stat \"$UP_URL\" \".hanging == 2\"" &&
	fake_control "$UP_URL" "{\"release\":true}" &&
	wait "$a_PID" "$b_PID" && upstream_searches 2 &&
	test "$(jq -r .coalesced a.json)$(jq -r .coalesced b.json)" = nullnull
'
test_expect_success 'searches that generate are not coalesced' '
	fake_control "$UP_URL" "{\"reset_stats\":true}" &&
	bg a "{\"query\":\"volcano lava\",\"timeout_ms\":30000,\"generate\":true}" &&
	bg b "{\"query\":\"volcano lava\",\"timeout_ms\":30000,\"generate\":true}" &&
	wait_for "fake_stat \"$UP_URL\" \".hanging == 2\"" &&
	fake_control "$UP_URL" "{\"release\":true}" &&
	wait "$a_PID" "$b_PID" && upstream_searches 2 &&
	test "$(jq -r .coalesced a.json)$(jq -r .coalesced b.json)" = nullnull
'
test_expect_success 'a follower leaving does not cancel the leader' '
	fake_control "$UP_URL" "{\"reset_stats\":true}" &&
	bg a "{$Q}" && wait_for "fake_stat \"$UP_URL\" \".hanging == 1\"" &&
	bg b "{$Q}" && wait_for "live_searches 2" &&
	kill "$b_PID" && wait_for "live_searches 1" &&
	fake_stat "$UP_URL" ".hanging == 1" &&
	fake_control "$UP_URL" "{\"release\":true}" &&
	wait "$a_PID" && test "$(jq -r .sources.web.status a.json)" = ok
'
test_expect_success 'the leader leaving does not cancel a follower' '
	bg a "{$Q}" && wait_for "fake_stat \"$UP_URL\" \".hanging == 1\"" &&
	bg b "{$Q}" && wait_for "live_searches 2" &&
	kill "$a_PID" && wait_for "live_searches 1" &&
	fake_stat "$UP_URL" ".hanging == 1" &&
	fake_control "$UP_URL" "{\"release\":true}" &&
	wait "$b_PID" && test "$(jq -r .sources.web.status b.json)" = ok &&
	test "$(jq -r .coalesced b.json)" = true
'
test_expect_success 'the last client leaving cancels the fan-out' '
	bg a "{$Q}" && wait_for "fake_stat \"$UP_URL\" \".hanging == 1\"" &&
	bg b "{$Q}" && wait_for "live_searches 2" &&
	kill "$a_PID" "$b_PID" && wait_for "live_searches 0" &&
	wait_for "fake_stat \"$UP_URL\" \".hanging == 0\""
'
test_expect_success 'stop' 'fake_control "$UP_URL" "{\"reset\":true}" && stop_ragd'
test_done
