#!/bin/sh
# Jobs on a store whose vectors come from an OpenAI-compatible service: the
# batch's embeddings go out concurrently, at most 4 requests in flight, are
# retried on 429 and 5xx, fail the job on a lasting error without showing
# the key, and stop cleanly on a cancel or a shutdown.
. "$SRCDIR/tests/t/lib.sh"
DB=$TEST_DIR/o.db
KEY=sk-test-0123456789abcdef
export RAGD_EMBED_API_KEY=$KEY

req() {
	m=$1; p=$2; shift 2
	curl -s -o out.json -w '%{http_code}' -X "$m" "$@" "$RAGD_URL$p"
}
post_docs() {
	req POST /documents -H "Content-Type: application/x-ndjson" --data-binary "@$1"
}
job_status() {
	curl -s "$RAGD_URL/jobs/$1" | jq -r .status
}
# docs N PREFIX [REPEATS]: an ndjson payload of N documents of two chunks
# each (eight with REPEATS 280); the text of document i carries the word
# PREFIXw<i>.
docs() {
	"$PY" -c 'import sys, json
for i in range(int(sys.argv[1])):
    w = "%sw%d " % (sys.argv[2], i)
    print(json.dumps({"_id": "%s%d" % (sys.argv[2], i), "title": "Doc %d" % i,
                      "text": (w + "volcanic ash settles over granite ridges. ") * int(sys.argv[3])}))' "$1" "$2" "${3:-70}"
}
search_ids() {
	post_search "{\"query\": \"$1\", \"k\": 10, \"generate\": false, \"sources\": [\"$2\"]}" s.json >/dev/null &&
	jq -r '.contexts[].id' s.json
}
embed_requests() {
	curl -s "$EMB_URL/stats" | jq '.by_path["/v1/embeddings"]'
}

test_expect_success 'setup: a store embedded by the service, ragd embedding with a 200 ms delay' '
	start_fakeup EMB --dims 48 &&
	"$RAGD" ingest --db "$DB" --embedder openai --embed-url "$EMB_URL/v1" \
		"$SRCDIR/tests/data/corpus.jsonl" >/dev/null &&
	cat >c.json <<-EOC &&
	{"db": "$DB", "embed_url": "$EMB_URL/@delay_ms=200/v1", "sources": [
	  {"name": "vector", "type": "vector", "db": "$DB", "refresh_ms": 0},
	  {"name": "kb", "type": "kb", "db": "$DB"}]}
	EOC
	start_ragd --config c.json
'
# A job step takes 64 documents: 64 of eight chunks are 512 texts, eight
# requests of 64.
test_expect_success 'a step of 512 chunks: 8 requests, 4 in flight at once, then found by vector' '
	docs 64 a 280 >a.ndjson && fake_control "$EMB_URL" "{\"reset_stats\":true}" &&
	test "$(post_docs a.ndjson)" = 202 && job=$(jq -r .job out.json) &&
	wait_for "test \"\$(job_status $job)\" = done" 60 &&
	test "$(req GET /jobs/$job)" = 200 && validate job out.json &&
	jq -e ".documents == {\"total\": 64, \"done\": 64, \"failed\": 0} and .chunks == 512 and
	       .errors == []" out.json >/dev/null &&
	curl -s "$EMB_URL/stats" >st.json && say "$(jq -c "{by_path, max_active}" st.json)" &&
	jq -e ".by_path[\"/v1/embeddings\"] == 8 and .max_active == 4" st.json >/dev/null &&
	test "$(sqlite3 "$DB" "SELECT count(*) FROM vectors")" -ge 512 &&
	search_ids "aw17" vector | grep -qx a17 && search_ids "aw63 aw63" vector | grep -qx a63
'
for status in 429 500; do
test_expect_success "HTTP $status on the first attempts is retried, and the job succeeds" '
	docs 10 r$status >r.ndjson &&
	fake_control "$EMB_URL" "{\"reset_stats\":true,\"mode\":\"fail\",\"status\":$status}" &&
	test "$(post_docs r.ndjson)" = 202 && job=$(jq -r .job out.json) &&
	wait_for "fake_stat \"$EMB_URL\" \".by_mode.fail >= 2\"" &&
	fake_control "$EMB_URL" "{\"mode\":\"ok\"}" &&
	wait_for "test \"\$(job_status $job)\" = done" 60 &&
	test "$(req GET /jobs/$job)" = 200 && jq -e ".documents.done == 10 and .errors == []" out.json &&
	fake_stat "$EMB_URL" ".by_mode.ok == 1" &&
	search_ids "r${status}w4" vector | grep -qx r${status}4
'
done
test_expect_success 'a lasting 401 fails the job, naming the status and message, never the key' '
	docs 3 u >u.ndjson &&
	fake_control "$EMB_URL" "{\"reset_stats\":true,\"mode\":\"fail\",\"status\":401}" &&
	test "$(post_docs u.ndjson)" = 202 && job=$(jq -r .job out.json) &&
	wait_for "test \"\$(job_status $job)\" = failed" 60 &&
	test "$(req GET /jobs/$job)" = 200 && validate job out.json &&
	jq -r ".errors[0].message" out.json | grep "HTTP 401: fake failure" &&
	fake_stat "$EMB_URL" ".by_mode.fail == 1" &&
	! grep -q "$KEY" out.json && ! grep -q "$KEY" "$RAGD_LOG" &&
	test "$(req GET /documents/u0)" = 404
'
test_expect_success 'DELETE /jobs/<id> while embeddings are held stops them; the runner goes on' '
	docs 64 h 280 >h.ndjson &&
	fake_control "$EMB_URL" "{\"reset\":true,\"reset_stats\":true,\"mode\":\"hang\"}" &&
	test "$(post_docs h.ndjson)" = 202 && job=$(jq -r .job out.json) &&
	wait_for "fake_stat \"$EMB_URL\" \".hanging == 4\"" &&
	test "$(req DELETE /jobs/$job)" = 200 && validate job out.json &&
	jq -e ".status == \"cancelled\" and .documents.done == 0" out.json &&
	wait_for "fake_stat \"$EMB_URL\" \".hanging == 0 and .abandoned == 4\"" &&
	fake_control "$EMB_URL" "{\"mode\":\"ok\"}" &&
	docs 2 g >g.ndjson && test "$(post_docs g.ndjson)" = 202 && job2=$(jq -r .job out.json) &&
	wait_for "test \"\$(job_status $job2)\" = done" 60 &&
	test "$(job_status $job)" = cancelled && test "$(req GET /documents/h0)" = 404 &&
	fake_stat "$EMB_URL" ".requests == 5"
'
test_expect_success 'shutdown while embeddings are held exits cleanly; the job resumes at restart' '
	fake_control "$EMB_URL" "{\"reset_stats\":true,\"mode\":\"hang\"}" &&
	docs 5 s >s.ndjson && test "$(post_docs s.ndjson)" = 202 && job=$(jq -r .job out.json) &&
	wait_for "fake_stat \"$EMB_URL\" \".hanging == 1\"" &&
	stop_ragd && test "$(sqlite3 "$DB" "SELECT status FROM jobs WHERE id = $job")" = running &&
	fake_control "$EMB_URL" "{\"mode\":\"ok\"}" &&
	start_ragd --config c.json &&
	wait_for "test \"\$(job_status $job)\" = done" 60 &&
	test "$(req GET /documents/s4)" = 200 &&
	stop_ragd
'
test_done
