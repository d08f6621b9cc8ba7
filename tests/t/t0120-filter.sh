#!/bin/sh
# Metadata filters end to end: kb and vector apply them before their top k
# is cut (the matching documents here rank below k others, so filtering a
# top k afterwards would return nothing), web cannot and is skipped, and a
# malformed filter is a 400 naming the path inside it.
. "$SRCDIR/tests/t/lib.sh"
DB=$TEST_DIR/f.db

test_expect_success 'setup: strong old documents, weak new ones; ragd with web' '
	for i in 1 2 3 4 5 6 7 8; do
		printf "{\"_id\": \"old%s\", \"title\": \"Volcano %s\", \"text\": \"Volcano volcano volcano: the volcano erupts, volcano ash.\", \"metadata\": {\"year\": 2000, \"tags\": [\"geo\"]}}\n" $i $i
	done >corpus.jsonl &&
	for i in 1 2 3 4; do
		printf "{\"_id\": \"new%s\", \"title\": \"Note %s\", \"text\": \"A long note about many other things, rivers, lakes, mountains, weather and once a volcano.\", \"metadata\": {\"year\": 2020, \"tags\": [\"geo\", \"new\"]}}\n" $i $i
	done >>corpus.jsonl &&
	"$RAGD" ingest --db "$DB" corpus.jsonl >/dev/null &&
	start_fakeup UP && start_ragd --db "$DB" --web-url "$UP_URL"
'
test_expect_success 'without a filter the old documents fill the top 3 of kb and vector' '
	test "$(post_search "{\"query\":\"volcano\",\"k\":3,\"generate\":false,\"sources\":[\"kb\",\"vector\"]}")" = 200 &&
	test "$(jq -r "[.contexts[].id | select(startswith(\"old\"))] | length" out.json)" = 3
'
test_expect_success 'with a filter kb and vector each return k matching documents' '
	test "$(post_search "{\"query\":\"volcano\",\"k\":3,\"generate\":false,\"filter\":{\"year\":{\"\$gte\":2015}}}")" = 200 &&
	test "$(jq -r ".sources.kb.hits, .sources.vector.hits" out.json | paste -sd,)" = 3,3 &&
	test "$(jq -r "[.contexts[].id | select(startswith(\"new\"))] | length" out.json)" = 3 &&
	test "$(jq ".contexts | length" out.json)" = 3
'
test_expect_success 'web cannot filter: skipped, saying why, and not a partial answer' '
	test "$(jq -r ".sources.web | .status + \",\" + .error + \",\" + (.hits|tostring)" out.json)" = "skipped,cannot apply filter,0" &&
	test "$(jq .partial out.json)" = false &&
	validate search-response out.json
'
test_expect_success 'operators, arrays and ids through HTTP' '
	post_search "{\"query\":\"volcano\",\"k\":20,\"generate\":false,\"sources\":[\"kb\"],\"filter\":{\"\$or\":[{\"id\":\"old2\"},{\"tags\":\"new\"}],\"year\":{\"\$ne\":2020}}}" >/dev/null &&
	test "$(jq -r "[.contexts[].id] | join(\",\")" out.json)" = old2 &&
	post_search "{\"query\":\"volcano\",\"k\":20,\"generate\":false,\"sources\":[\"vector\"],\"filter\":{\"year\":\"2020\"}}" >/dev/null &&
	test "$(jq ".contexts | length" out.json)" = 0
'
test_expect_success 'GET takes the filter as JSON' '
	curl -s -o get.json "$RAGD_URL/search?q=volcano&k=2&generate=false&sources=kb&filter=%7B%22year%22%3A2020%7D" &&
	test "$(jq -r "[.contexts[].id | startswith(\"new\")] | all" get.json)" = true &&
	test "$(jq ".contexts | length" get.json)" = 2
'
test_expect_success 'the event stream reports a skipped source' '
	curl -sN -H "Content-Type: application/json" -H "Accept: text/event-stream" \
		--data "{\"query\":\"volcano\",\"generate\":false,\"filter\":{\"year\":2020}}" "$RAGD_URL/search" >s.txt &&
	grep -q "\"status\": *\"skipped\"" s.txt &&
	validate --sse search-events s.txt
'
test_expect_success 'a malformed filter is a 400 naming the path inside it' '
	test "$(post_search "{\"query\":\"q\",\"filter\":{\"\$or\":[{\"year\":{\"\$gte\":true}}]}}" bad.json)" = 400 &&
	test "$(jq -r .error.message bad.json)" = "filter.\$or[0].year.\$gte: expected a number or string" &&
	validate error bad.json
'
test_expect_success 'the request schema accepts filters ragd accepts and rejects what it rejects' '
	printf "%s\n" "{\"query\":\"q\",\"filter\":{\"year\":{\"\$gte\":2015},\"lang\":{\"\$in\":[\"en\",\"de\"]},\"\$or\":[{\"a.b\":1}]}}" >good.json &&
	validate search-request good.json &&
	for bad in "{\"query\":\"q\",\"filter\":[]}" "{\"query\":\"q\",\"filter\":{\"x\":{\"\$like\":1}}}" "{\"query\":\"q\",\"filter\":{\"\$not\":{}}}"; do
		printf "%s\n" "$bad" >bad.json
		! validate search-request bad.json >/dev/null || { echo "schema accepted $bad"; exit 1; }
		test "$(post_search "$bad" bad.out)" = 400 || { echo "ragd accepted $bad"; exit 1; }
	done
'
test_expect_success 'ragd stops cleanly' '
	stop_ragd
'
test_done
