#!/bin/sh
# /search end to end: three real sources (vector and kb on a real SQLite
# store, web on the fake SearxNG), fused results, GET and POST, responses
# valid against schemas/search-response.schema.json.
. "$SRCDIR/tests/t/lib.sh"
DB=$TEST_DIR/s.db

test_expect_success 'setup: store, fake upstream, ragd with equal weights' '
	ingest_fixture "$DB" &&
	start_fakeup UP &&
	cat >equal.json <<-EOC &&
	{"sources": [{"name": "vector", "type": "vector", "weight": 1.0},
	  {"name": "kb", "type": "kb", "weight": 1.0}, {"name": "web", "type": "web", "weight": 1.0}]}
	EOC
	start_ragd --db "$DB" --web-url "$UP_URL" --config equal.json
'
test_expect_success 'POST /search answers from all three sources' '
	test "$(post_search "{\"query\":\"reciprocal rank fusion of ranked lists\",\"k\":5}")" = 200 &&
	for s in vector kb web; do
		test "$(jq -r ".sources.$s.status" out.json)" = ok || { cat out.json; exit 1; }
	done &&
	test "$(jq ".partial" out.json)" = false &&
	test "$(jq ".contexts | length" out.json)" = 5
'
test_expect_success 'the response is valid against the schema' '
	validate search-response out.json
'
test_expect_success 'the request schema accepts what ragd accepts and rejects what it rejects' '
	printf "%s\n" "{\"query\":\"q\"}" "{\"query\":\"q\",\"k\":100,\"sources\":[\"kb\"],\"timeout_ms\":5,\"generate\":false}" >good.jsonl &&
	validate search-request good.jsonl &&
	for bad in "{}" "{\"query\":\"\"}" "{\"query\":\"q\",\"k\":0}" "{\"query\":\"q\",\"sorces\":[]}"; do
		printf "%s\n" "$bad" >bad.json
		! validate search-request bad.json >/dev/null || { echo "schema accepted $bad"; exit 1; }
		test "$(post_search "$bad" bad.out)" = 400 || { echo "ragd accepted $bad"; exit 1; }
	done
'
test_expect_success 'the best match comes first and cites its source' '
	test "$(jq -r ".contexts[0].id" out.json)" = d01 &&
	jq -e ".contexts[0].source == \"kb\" or .contexts[0].source == \"vector\"" out.json >/dev/null
'
test_expect_success 'ranks are 1..n and fused scores never increase' '
	jq -e "[.contexts[].rank] == [range(1; (.contexts | length) + 1)]" out.json >/dev/null &&
	jq -e "[.contexts[].score] as \$s | all(range(1; \$s | length); \$s[. - 1] >= \$s[.])" out.json >/dev/null
'
test_expect_success 'a document found by two sources appears once, scored by both' '
	test "$(jq "[.contexts[].id] | unique | length" out.json)" = "$(jq ".contexts | length" out.json)" &&
	jq -e ".contexts[0].score > (1 / 61)" out.json >/dev/null
'
test_expect_success 'web hits carry their URL and the upstream saw the query' '
	post_search "{\"query\":\"volcano lava\",\"sources\":[\"web\"]}" >/dev/null &&
	jq -e ".contexts[0].url | startswith(\"https://example.org/\")" out.json >/dev/null &&
	curl -s "$UP_URL/stats" | jq -e ".by_path[\"/search\"] >= 2" >/dev/null
'
test_expect_success 'sources limits the sources asked and reported' '
	test "$(post_search "{\"query\":\"volcano\",\"sources\":[\"kb\"]}")" = 200 &&
	test "$(jq -r ".sources | keys | join(\",\")" out.json)" = kb &&
	test "$(jq -r ".contexts[0].id" out.json)" = d07
'
test_expect_success 'GET /search takes the same parameters' '
	curl -s -o get.json "$RAGD_URL/search?q=volcano+magma&k=3&sources=kb,vector" &&
	test "$(jq ".contexts | length" get.json)" = 3 &&
	test "$(jq -r ".contexts[0].id" get.json)" = d07 &&
	test "$(jq -r ".sources | keys | join(\",\")" get.json)" = kb,vector &&
	validate search-response get.json
'
test_expect_success 'k caps the contexts' '
	post_search "{\"query\":\"the\",\"k\":1}" >/dev/null &&
	test "$(jq ".contexts | length" out.json)" -le 1
'
test_expect_success 'UTF-8 queries find UTF-8 text' '
	post_search "{\"query\":\"café façades\",\"sources\":[\"kb\"]}" >/dev/null &&
	test "$(jq -r ".contexts[0].id" out.json)" = d10
'
test_expect_success 'FTS5 syntax in a query is searched as words, never an error' '
	for q in "\\\"unbalanced" "a AND OR NOT" "NEAR(volcano lava)" "title:volcano" "lava*" "^x -y +z" "(((" "{title text}: ash" "*" ":"; do
		code=$(post_search "{\"query\":\"$q\",\"sources\":[\"kb\"]}") &&
		test "$code" = 200 && test "$(jq -r ".sources.kb.status" out.json)" = ok ||
		{ echo "query $q: $code"; cat out.json; exit 1; }
	done
'
test_expect_success 'a query with no searchable word answers empty, not an error' '
	test "$(post_search "{\"query\":\"?!... ---\",\"sources\":[\"kb\",\"vector\"]}")" = 200 &&
	test "$(jq ".contexts | length" out.json)" = 0 &&
	test "$(jq ".partial" out.json)" = false
'
# finds_new1 SOURCE: the source ranks the newly ingested document first
# (the vector and kb sources apply the store's change log about once a
# second).
finds_new1() {
	post_search "{\"query\":\"zeppelins airships\",\"sources\":[\"$1\"]}" new.json >/dev/null &&
	test "$(jq -r ".contexts[0].id" new.json)" = new1
}

test_expect_success 'documents ingested while ragd runs become searchable' '
	printf "%s\n" "{\"_id\":\"new1\",\"title\":\"Zeppelins\",\"text\":\"Rigid airships called zeppelins crossed the Atlantic.\"}" >new.jsonl &&
	"$RAGD" ingest --db "$DB" new.jsonl >/dev/null &&
	wait_for "finds_new1 kb" &&
	wait_for "finds_new1 vector"
'
test_expect_success 'GET /healthz reports the sources' '
	curl -s "$RAGD_URL/healthz" >h.json &&
	jq -e ".status == \"ok\" and .sources.web.status == \"enabled\"" h.json >/dev/null
'
test_expect_success 'without --web-url the web source is reported disabled, not failed' '
	stop_ragd && start_ragd --db "$DB" &&
	test "$(post_search "{\"query\":\"tides moon\"}")" = 200 &&
	test "$(jq -r ".sources.web.status" out.json)" = disabled &&
	test "$(jq ".partial" out.json)" = false &&
	test "$(jq -r ".contexts[0].id" out.json)" = d09 &&
	validate search-response out.json
'
test_expect_success 'ragd stops cleanly on SIGTERM' '
	stop_ragd
'
test_done
