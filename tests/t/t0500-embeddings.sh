#!/bin/sh
# The OpenAI-compatible embedder: a store built with --embedder openai embeds
# its queries through the same endpoint, asynchronously on the loop; when the
# endpoint fails or is slow, only the vector source suffers.
. "$SRCDIR/tests/t/lib.sh"
DB=$TEST_DIR/e.db

test_expect_success 'setup: fake embeddings endpoint' '
	start_fakeup EMB --dims 48
'
test_expect_success 'ingest with --embedder openai records the endpoint' '
	"$RAGD" ingest --db "$DB" --embedder openai --embed-url "$EMB_URL/v1" "$SRCDIR/tests/data/corpus.jsonl" >sum.txt &&
	grep -q "ingested 14 documents" sum.txt &&
	test "$(sqlite3 "$DB" "SELECT value FROM meta WHERE key = '\''embedder'\''")" = openai &&
	test "$(sqlite3 "$DB" "SELECT value FROM meta WHERE key = '\''embed_dims'\''")" = 48 &&
	test "$(sqlite3 "$DB" "SELECT length(vec) FROM vectors LIMIT 1")" = 192
'
test_expect_success 'a later ingest with another embedder is refused (exit 2)' '
	printf "{\"_id\":\"x\",\"text\":\"y\"}\n" >x.jsonl &&
	{ "$RAGD" ingest --db "$DB" x.jsonl 2>err.txt; test $? -eq 2; } && grep -q openai err.txt
'
test_expect_success 'serve embeds queries through the recorded endpoint' '
	start_ragd --db "$DB" &&
	curl -s "$EMB_URL/_control" -d "{\"reset_stats\":true}" >/dev/null &&
	test "$(post_search "{\"query\":\"volcano lava magma\",\"sources\":[\"vector\"]}")" = 200 &&
	test "$(jq -r .sources.vector.status out.json)" = ok &&
	test "$(jq -r .contexts[0].id out.json)" = d07 &&
	curl -s "$EMB_URL/stats" | jq -e ".by_path[\"/v1/embeddings\"] == 1" >/dev/null
'
test_expect_success 'embeddings endpoint failing: vector error, kb still answers' '
	fake_control "$EMB_URL" "{\"mode\":\"fail\",\"status\":500}" &&
	test "$(post_search "{\"query\":\"volcano lava\"}")" = 200 &&
	test "$(jq -r .sources.vector.status out.json)" = error &&
	jq -r .sources.vector.error out.json | grep -q "HTTP 500" &&
	test "$(jq -r .sources.kb.status out.json)" = ok && test "$(jq .partial out.json)" = true &&
	validate search-response out.json
'
test_expect_success 'embeddings endpoint slow: vector timeout at its deadline' '
	fake_control "$EMB_URL" "{\"reset\":true,\"delay_ms\":3000}" &&
	test "$(post_search "{\"query\":\"volcano lava\",\"timeout_ms\":300}")" = 200 &&
	test "$(jq -r .sources.vector.status out.json)" = timeout &&
	test "$(jq -r .sources.kb.status out.json)" = ok
'
test_expect_success 'embeddings endpoint sending garbage: vector error' '
	fake_control "$EMB_URL" "{\"reset\":true,\"mode\":\"garbage\"}" &&
	post_search "{\"query\":\"volcano lava\"}" >/dev/null &&
	test "$(jq -r .sources.vector.status out.json)" = error
'
test_expect_success '--embed-url with a trailing slash reaches the same endpoint' '
	stop_ragd && fake_control "$EMB_URL" "{\"reset\":true,\"reset_stats\":true}" &&
	start_ragd --db "$DB" --embed-url "$EMB_URL/v1/" &&
	post_search "{\"query\":\"volcano lava\",\"sources\":[\"vector\"]}" >/dev/null &&
	test "$(jq -r .sources.vector.status out.json)" = ok &&
	curl -s "$EMB_URL/stats" | jq -e ".by_path[\"/v1/embeddings\"] == 1" >/dev/null
'
test_expect_success '--embed-url overrides the recorded endpoint' '
	stop_ragd && fake_control "$EMB_URL" "{\"reset\":true}" &&
	start_ragd --db "$DB" --embed-url "http://127.0.0.1:1/v1" &&
	post_search "{\"query\":\"volcano lava\",\"sources\":[\"vector\"]}" >/dev/null &&
	test "$(jq -r .sources.vector.status out.json)" = error &&
	stop_ragd
'
test_done
