#!/bin/sh
# Concurrency: sources are asked at once (proved from the response's own
# timings, not wall-clock limits), and many parallel requests are all
# answered correctly.
. "$SRCDIR/tests/t/lib.sh"
DB=$TEST_DIR/c.db

test_expect_success 'setup: web at 300 ms, three slow web instances' '
	ingest_fixture "$DB" && start_fakeup UP --delay-ms 300 &&
	cat >cfg.json <<-EOC &&
	{"db": "$DB", "timeout_ms": 5000, "sources": [
	  {"name": "vector", "type": "vector"}, {"name": "kb", "type": "kb"},
	  {"name": "web", "type": "web", "url": "$UP_URL"},
	  {"name": "w2", "type": "web", "url": "$UP_URL/@delay_ms=300"},
	  {"name": "w3", "type": "web", "url": "$UP_URL/@delay_ms=300"}]}
	EOC
	validate config cfg.json && start_ragd --config cfg.json
'
test_expect_success 'web at 300 ms, local fast: retrieval is the slowest source, not the sum' '
	post_search "{\"query\":\"volcano\",\"sources\":[\"vector\",\"kb\",\"web\"]}" >/dev/null &&
	jq -c "{r: .timing_ms.retrieval, web: .sources.web.latency_ms, kb: .sources.kb.latency_ms, vector: .sources.vector.latency_ms}" out.json | sed "s/^/# /" &&
	jq -e ".sources.web.status == \"ok\" and .sources.web.latency_ms >= 300" out.json >/dev/null &&
	jq -e ".timing_ms.retrieval >= .sources.web.latency_ms and .timing_ms.retrieval < .sources.web.latency_ms + 150" out.json >/dev/null
'
test_expect_success 'three 300 ms sources at once take about 300 ms, not 900' '
	post_search "{\"query\":\"volcano\",\"sources\":[\"web\",\"w2\",\"w3\"]}" >/dev/null &&
	jq -c "{r: .timing_ms.retrieval, l: [.sources[].latency_ms]}" out.json | sed "s/^/# /" &&
	jq -e "[.sources[].status] == [\"ok\",\"ok\",\"ok\"]" out.json >/dev/null &&
	jq -e "([.sources[].latency_ms] | add) as \$sum | .timing_ms.retrieval < 0.6 * \$sum" out.json >/dev/null &&
	jq -e "([.sources[].latency_ms] | max) as \$max | .timing_ms.retrieval >= \$max" out.json >/dev/null
'
test_expect_success '200 parallel requests are all answered, each with its own query' '
	seq 200 | xargs -P 64 -I{} sh -c "curl -s -o r{}.json -w \"%{http_code}\n\" -H \"Content-Type: application/json\" --data \"{\\\"query\\\":\\\"volcano {}\\\",\\\"k\\\":4,\\\"sources\\\":[\\\"vector\\\",\\\"kb\\\",\\\"web\\\"]}\" $RAGD_URL/search" >codes.txt &&
	test "$(grep -c "^200$" codes.txt)" = 200 &&
	for i in $(seq 200); do
		test "$(jq -r .query r$i.json)" = "volcano $i" || { echo "r$i.json"; cat r$i.json; exit 1; }
		test "$(jq -r ".sources.kb.status + .sources.vector.status + .sources.web.status" r$i.json)" = okokok &&
		jq -e "[.contexts[].id] | index(\"d07\") != null" r$i.json >/dev/null || { cat r$i.json; exit 1; }
	done
'
test_expect_success 'a sample of the parallel responses is schema-valid' '
	validate search-response r1.json r50.json r100.json r200.json
'
test_expect_success 'ragd stops cleanly' '
	stop_ragd
'
test_done
