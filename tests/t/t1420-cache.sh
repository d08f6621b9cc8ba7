#!/bin/sh
# The result cache: off by default; with --cache-ttl-ms an identical search
# is answered from it (the fake upstream sees one request for two searches)
# and says "cached": true in the reply, the metrics and the access log;
# entries expire after the TTL, the cache is emptied when POST /documents
# changes the store, and --cache-max-bytes evicts the least recently used.
. "$SRCDIR/tests/t/lib.sh"
DB=$TEST_DIR/c.db

scrape() { curl -s -o m.txt "$RAGD_URL/metrics"; }
val() { "$PY" "$SRCDIR/tests/t/prom.py" m.txt value "$@"; }
# upstream_searches N: the fake upstream answered N searches since its
# counters were reset.
upstream_searches() {
	fake_stat "$UP_URL" "(.by_path[\"/search\"] // 0) == $1"
}
# search NAME QUERY: POST a search that only the web source answers into
# NAME.json; fails unless it is answered 200.
search() {
	test "$(post_search "{\"query\":\"$2\",\"k\":3,\"generate\":false,\"sources\":[\"web\"]}" "$1.json")" = 200
}
cached() { test "$(jq -r .cached "$1.json")" = true; }
not_cached() { test "$(jq -r .cached "$1.json")" = null; }
# config FILE [KEY: VALUE, ...]: web from the fake upstream, vector and kb
# from the store (no refresh timer), plus the given config keys.
config() {
	f=$1; shift
	cat >"$f" <<-EOC
	{"db": "$DB", "sources": [
	  {"name": "web", "type": "web", "url": "$UP_URL"},
	  {"name": "vector", "type": "vector", "db": "$DB", "refresh_ms": 0},
	  {"name": "kb", "type": "kb", "db": "$DB"}]${1:+, $1}}
	EOC
}

test_expect_success 'setup' '
	ingest_fixture "$DB" && start_fakeup UP &&
	config off.json && config on.json "\"cache_ttl_ms\": 600000" &&
	validate config off.json on.json
'
test_expect_success 'off by default: two identical searches, two upstream requests' '
	start_ragd --config off.json &&
	fake_control "$UP_URL" "{\"reset_stats\":true}" &&
	search a "volcano lava" && search b "volcano lava" &&
	upstream_searches 2 && not_cached a && not_cached b &&
	scrape && test "$(val ragd_cache_hits_total)" = 0 &&
	test "$(val ragd_cache_misses_total)" = 0 && stop_ragd
'
test_expect_success 'on: the second identical search is a hit, no upstream request' '
	start_ragd --config on.json --access-log access.log &&
	fake_control "$UP_URL" "{\"reset_stats\":true}" &&
	search a "volcano lava" && search b "  volcano   lava " &&
	upstream_searches 1 && not_cached a && cached b &&
	test "$(jq -c .contexts a.json)" = "$(jq -c .contexts b.json)" &&
	test "$(jq -c .sources a.json)" = "$(jq -c .sources b.json)" &&
	test "$(jq -r .query b.json)" = "  volcano   lava " &&
	test "$(jq -r .request_id a.json)" != "$(jq -r .request_id b.json)" &&
	jq -e ".timing_ms.retrieval == 0" b.json >/dev/null &&
	validate search-response a.json b.json
'
test_expect_success 'a hit is counted in the metrics and the access log' '
	scrape && test "$(val ragd_cache_hits_total)" = 1 &&
	test "$(val ragd_cache_misses_total)" = 1 &&
	test "$(val ragd_source_requests_total source=web status=cached)" = 1 &&
	test "$(val ragd_cache_entries)" = 1 &&
	wait_for "grep -q \"\\\"cached\\\":true\" access.log" &&
	grep "\"cached\":true" access.log >hit.log && test "$(wc -l <hit.log)" = 1 &&
	jq -e ".sources.web.status == \"cached\"" hit.log >/dev/null
'
test_expect_success 'a different k, a generating search or a stream is not a hit' '
	fake_control "$UP_URL" "{\"reset_stats\":true}" &&
	test "$(post_search "{\"query\":\"volcano lava\",\"k\":4,\"generate\":false,\"sources\":[\"web\"]}" c.json)" = 200 &&
	test "$(post_search "{\"query\":\"volcano lava\",\"k\":3,\"generate\":true,\"sources\":[\"web\"]}" d.json)" = 200 &&
	test "$(post_search "{\"query\":\"volcano lava\",\"k\":3,\"generate\":false,\"stream\":true,\"sources\":[\"web\"]}" e.txt)" = 200 &&
	grep -q "^event: " e.txt && ! grep -q cached e.txt &&
	upstream_searches 3 && not_cached c && not_cached d
'
test_expect_success 'POST /documents empties the cache' '
	search a "volcano lava" && cached a &&
	scrape && test "$(val ragd_ingest_jobs_total status=done)" = 0 &&
	curl -s -o job.json -H "Content-Type: application/json" --data-binary \
		"{\"documents\":[{\"id\":\"fresh\",\"text\":\"volcano lava volcano lava\"}]}" \
		"$RAGD_URL/documents" &&
	wait_for "scrape && test \"\$(val ragd_ingest_jobs_total status=done)\" = 1" &&
	scrape && test "$(val ragd_cache_entries)" = 0 &&
	fake_control "$UP_URL" "{\"reset_stats\":true}" &&
	search b "volcano lava" && not_cached b && upstream_searches 1 &&
	test "$(post_search "{\"query\":\"volcano lava\",\"k\":3,\"generate\":false}" e.json)" = 200 &&
	jq -e "[.contexts[].id] | index(\"fresh\")" e.json >/dev/null &&
	stop_ragd
'
test_expect_success 'a write by another process empties the cache within a second' '
	start_ragd --config on.json &&
	search a "volcano lava" && search b "volcano lava" && cached b &&
	printf "%s\n" "{\"id\":\"other\",\"text\":\"volcano lava from ragd ingest\"}" >other.jsonl &&
	"$RAGD" ingest --db "$DB" other.jsonl &&
	wait_for "scrape && test \"\$(val ragd_cache_entries)\" = 0" &&
	search c "volcano lava" && not_cached c &&
	stop_ragd
'
test_expect_success 'entries expire after the TTL' '
	config ttl.json "\"cache_ttl_ms\": 3000" && start_ragd --config ttl.json &&
	fake_control "$UP_URL" "{\"reset_stats\":true}" &&
	search a "volcano lava" && search b "volcano lava" && cached b && upstream_searches 1 &&
	wait_for "search c \"volcano lava\" && not_cached c" &&
	upstream_searches 2 && stop_ragd
'
test_expect_success 'a small --cache-max-bytes evicts the least recently used' '
	start_ragd --config on.json &&
	search a "volcano lava" && scrape && one=$(val ragd_cache_bytes) &&
	max=$((one * 3 / 2)) && test "$max" -ge 1024 && stop_ragd &&
	start_ragd --config on.json --cache-max-bytes "$max" &&
	fake_control "$UP_URL" "{\"reset_stats\":true}" &&
	search a "volcano lava" && search b "volcano lava two" &&
	scrape && test "$(val ragd_cache_entries)" = 1 &&
	at_most=$(val ragd_cache_bytes) && test "$at_most" -le "$max" &&
	search c "volcano lava two" && cached c &&
	search d "volcano lava" && not_cached d && upstream_searches 3 &&
	stop_ragd
'
test_expect_success 'stop' 'fake_control "$UP_URL" "{\"reset\":true}"'
test_done
