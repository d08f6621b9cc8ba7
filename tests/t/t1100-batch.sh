#!/bin/sh
# Batch search: POST /search/batch answers every item in input order, each
# with its /search document or its own error; a bad item never sinks the
# batch.  Items run at most `concurrency` at once and share --max-inflight
# with single searches, which the fake upstream's in-flight counts show; a
# client that leaves cancels every item; the batch has a deadline.
. "$SRCDIR/tests/t/lib.sh"
DB=$TEST_DIR/b.db

# post_batch JSON [OUT]: POST to /search/batch; prints the HTTP status.
post_batch() {
	curl -s -o "${2:-$TEST_DIR/out.json}" -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary "$1" "$RAGD_URL/search/batch"
}

# web_items N: N items asking only the web source, each with a long
# deadline of its own, so the upstream alone decides when they end.
web_items() {
	for i in $(seq "$1"); do
		printf '%s{"query":"lava %s","sources":["web"],"timeout_ms":60000,"generate":false}' \
			"$([ "$i" = 1 ] || echo ,)" "$i"
	done
}

test_expect_success 'setup' '
	ingest_fixture "$DB" && start_fakeup UP &&
	start_ragd --db "$DB" --web-url "$UP_URL" --max-inflight 4 --max-batch-queries 10
'
test_expect_success 'good and bad items: 200, every result in input order' '
	test "$(post_batch "{\"queries\":[{\"query\":\"volcano\",\"k\":2,\"sources\":[\"kb\",\"vector\"]},{\"query\":\"lava\",\"k\":0},{\"query\":\"magma\",\"stream\":true},{\"query\":\"ash\",\"sorces\":[\"kb\"]},7,{\"query\":\"eruption\",\"k\":1,\"sources\":[\"kb\"]}],\"concurrency\":2}")" = 200 &&
	validate batch-response out.json &&
	test "$(jq ".results | length" out.json)" = 6 &&
	test "$(jq -r ".results[0].query, .results[5].query" out.json | tr "\n" " ")" = "volcano eruption " &&
	test "$(jq -r "[.results[1,2,3,4].error.code] | join(\" \")" out.json)" = "invalid_field invalid_field unknown_field invalid_field" &&
	jq -r ".results[1].error.message" out.json | grep "^k: " &&
	jq -r ".results[2].error.message" out.json | grep "^stream: " &&
	jq -r ".results[3].error.message" out.json | grep "^sorces: " &&
	jq -e ".timing_ms.total >= 0" out.json
'
test_expect_success 'an item answers what the same /search answers' '
	post_search "{\"query\":\"volcano\",\"k\":2,\"sources\":[\"kb\",\"vector\"]}" single.json &&
	test "$(jq -c "[.contexts[].id]" single.json)" = "$(jq -c "[.results[0].contexts[].id]" out.json)" &&
	test "$(jq -c ".results[0].sources | keys" out.json)" = "[\"kb\",\"vector\"]" &&
	test "$(jq -r ".results[0].answer | type" out.json)" = string
'
test_expect_success 'a malformed batch is a 400 naming the field' '
	test "$(post_batch "{\"queries\":[{\"query\":\"a\"}],\"concurrency\":0}" e1.json)" = 400 &&
	jq -r .error.message e1.json | grep "^concurrency: " &&
	test "$(post_batch "{\"queries\":[{\"query\":\"a\"}],\"concurrency\":65}" e2.json)" = 400 &&
	test "$(post_batch "{\"concurrency\":2}" e3.json)" = 400 &&
	test "$(jq -r .error.code e3.json)" = missing_field && jq -r .error.message e3.json | grep "^queries: " &&
	test "$(post_batch "{\"queries\":[]}" e4.json)" = 400 && jq -r .error.message e4.json | grep "^queries: " &&
	test "$(post_batch "{\"queries\":{}}" e5.json)" = 400 &&
	test "$(post_batch "{\"queries\":[$(web_items 11)]}" e6.json)" = 400 &&
	jq -r .error.message e6.json | grep "^queries: 11 queries, the limit is 10" &&
	test "$(post_batch "{\"queries\":[{\"query\":\"a\"}],\"stream\":true}" e7.json)" = 400 &&
	test "$(jq -r .error.code e7.json)" = unknown_field &&
	test "$(post_batch "{\"queries\":[" e8.json)" = 400 && test "$(jq -r .error.code e8.json)" = invalid_json &&
	test "$(curl -s -o e9.json -w "%{http_code}" "$RAGD_URL/search/batch")" = 405 &&
	validate error e1.json e2.json e3.json e4.json e5.json e6.json e7.json e8.json e9.json
'
test_expect_success 'items run at most concurrency at once' '
	fake_control "$UP_URL" "{\"mode\":\"hang\",\"reset_stats\":true}" &&
	{ post_batch "{\"queries\":[$(web_items 7)],\"concurrency\":3}" conc.json >conc.code & } &&
	wait_for "fake_stat $UP_URL \".requests == 3 and .hanging == 3\"" && live_searches 3 &&
	fake_control "$UP_URL" "{\"release\":true}" &&
	wait_for "fake_stat $UP_URL \".requests == 6 and .hanging == 3\"" && live_searches 3 &&
	fake_control "$UP_URL" "{\"mode\":\"ok\",\"release\":true}" &&
	wait_for "test -s conc.code" && test "$(cat conc.code)" = 200 &&
	fake_stat "$UP_URL" ".requests == 7" &&
	test "$(jq -r "[.results[].sources.web.status] | unique | join(\" \")" conc.json)" = ok &&
	test "$(jq -r "[.results[].query] | join(\",\")" conc.json)" = "lava 1,lava 2,lava 3,lava 4,lava 5,lava 6,lava 7" &&
	validate batch-response conc.json
'
test_expect_success 'items share --max-inflight with single searches and wait for room' '
	fake_control "$UP_URL" "{\"mode\":\"hang\",\"reset_stats\":true}" &&
	{ post_batch "{\"queries\":[$(web_items 6)],\"concurrency\":8}" over.json >over.code & } &&
	wait_for "fake_stat $UP_URL \".hanging == 4\"" && live_searches 4 &&
	test "$(post_search "{\"query\":\"volcano\",\"sources\":[\"kb\"]}" single.json)" = 503 &&
	test "$(jq -r .error.code single.json)" = overloaded &&
	test "$(post_batch "{\"queries\":[{\"query\":\"a\"}]}" b503.json)" = 503 &&
	fake_stat "$UP_URL" ".requests == 4" &&
	fake_control "$UP_URL" "{\"mode\":\"ok\",\"release\":true}" &&
	wait_for "test -s over.code" && test "$(cat over.code)" = 200 &&
	test "$(jq -r "[.results[].sources.web.status] | join(\" \")" over.json)" = "ok ok ok ok ok ok" &&
	fake_stat "$UP_URL" ".requests == 6"
'
test_expect_success 'a client leaving mid-batch cancels every item' '
	fake_control "$UP_URL" "{\"mode\":\"hang\",\"reset_stats\":true}" &&
	{ curl -s -m 120 -o /dev/null -H "Content-Type: application/json" \
		--data "{\"queries\":[$(web_items 5)],\"concurrency\":3}" "$RAGD_URL/search/batch" & } &&
	pid=$! &&
	wait_for "fake_stat $UP_URL \".hanging == 3\" && live_searches 3" &&
	kill $pid && { wait $pid || :; } &&
	wait_for "live_searches 0" 6 && wait_for "fake_stat $UP_URL \".hanging == 0\"" 6 &&
	fake_stat "$UP_URL" ".requests == 3" &&
	fake_control "$UP_URL" "{\"mode\":\"ok\"}" &&
	test "$(post_search "{\"query\":\"volcano\",\"sources\":[\"kb\"]}")" = 200
'
test_expect_success 'the batch deadline ends what has not finished' '
	fake_control "$UP_URL" "{\"mode\":\"hang\",\"reset_stats\":true}" &&
	test "$(post_batch "{\"queries\":[$(web_items 5),{\"query\":\"x\",\"k\":0}],\"concurrency\":2,\"timeout_ms\":300}" dl.json)" = 200 &&
	validate batch-response dl.json &&
	test "$(jq -r "[.results[].error.code] | join(\" \")" dl.json)" = "timeout timeout timeout timeout timeout invalid_field" &&
	jq -r ".results[0].error.message" dl.json | grep "before this query finished" &&
	jq -r ".results[4].error.message" dl.json | grep "before this query started" &&
	wait_for "live_searches 0" && wait_for "fake_stat $UP_URL \".hanging == 0\"" &&
	fake_control "$UP_URL" "{\"mode\":\"ok\"}"
'
test_expect_success 'a batch has its own body limit: 1000 small queries fit' '
	stop_ragd && start_ragd --db "$DB" &&
	"$PY" -c "import json, sys; json.dump({\"queries\": [{\"query\": \"volcano lava %d\" % i, \"k\": 1, \"sources\": [\"kb\"], \"generate\": False} for i in range(1000)]}, open(sys.argv[1], \"w\"))" many.json &&
	test "$(wc -c <many.json)" -gt 65536 &&
	test "$(post_batch @many.json many.out)" = 200 &&
	test "$(jq ".results | length" many.out)" = 1000 &&
	test "$(jq "[.results[] | select(.error)] | length" many.out)" = 0 &&
	test "$(jq -r ".results[999].query" many.out)" = "volcano lava 999"
'
test_expect_success 'a batch body over --max-batch-bytes is a 413 naming the limit' '
	"$PY" -c "import sys; open(sys.argv[1], \"w\").write(\"{\\\"queries\\\": [{\\\"query\\\": \\\"a\\\"}]\" + \" \" * (4 << 20) + \"}\")" huge.json &&
	jq -e ".queries | length == 1" huge.json &&
	test "$(post_batch @huge.json huge.out)" = 413 &&
	validate error huge.out &&
	test "$(jq -r .error.code huge.out)" = body_too_large &&
	jq -r .error.message huge.out | grep "the limit is 4194304 (max_batch_bytes)"
'
test_expect_success 'ragd stops cleanly' '
	stop_ragd
'
test_done
