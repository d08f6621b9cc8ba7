#!/bin/sh
# Observability: GET /metrics parses as the Prometheus text format and every
# family moves with real traffic (searches that succeed and time out, a 404,
# generation, a job); labels are route templates; who may read /metrics;
# the access log (one JSON line per request, no query text, no key); and
# X-Request-Id.
. "$SRCDIR/tests/t/lib.sh"
DB=$TEST_DIR/m.db
SEARCHKEY=k-search-5ecret-0123456789
ADMINKEY=k-admin-5ecret-0123456789
SECRET_WORD=zanzibarquux

scrape() { curl -s -D mhdr.txt -o "${1:-m.txt}" -w '%{http_code}' "$RAGD_URL/metrics"; }
# Commit steps run on a worker: a job reads "done" a moment before the loop
# counts it, so the counters are waited for.
# val NAME [LABEL=VALUE...]: a sample of the last scrape (0 when absent).
val() { f=m.txt; "$PY" "$SRCDIR/tests/t/prom.py" "$f" value "$@"; }
# moved BEFORE NAME [LABEL=VALUE...]: print the growth of a sample since the
# scrape saved in BEFORE.
moved() {
	b=$1; shift
	"$PY" -c 'import sys; print("%g" % (float(sys.argv[1]) - float(sys.argv[2])))' \
		"$(val "$@")" "$(f=$b; "$PY" "$SRCDIR/tests/t/prom.py" "$b" value "$@")"
}
at_least() { "$PY" -c 'import sys; sys.exit(not float(sys.argv[1]) >= float(sys.argv[2]))' "$1" "$2"; }

test_expect_success 'setup: store, a web upstream, an LLM upstream, ragd logging to a file' '
	ingest_fixture "$DB" && start_fakeup UP && start_fakeup LLM &&
	start_ragd --db "$DB" --web-url "$UP_URL" --llm-url "$LLM_URL/v1" --access-log access.log
'
test_expect_success 'GET /metrics is Prometheus text 0.0.4 that a real parser reads' '
	test "$(scrape)" = 200 &&
	tr -d "\r" <mhdr.txt | grep -qi "^Content-Type: text/plain; version=0.0.4" &&
	"$PY" "$SRCDIR/tests/t/prom.py" m.txt parse >n.txt; rc=$?
	if [ $rc = 77 ]; then say "python3-prometheus-client is missing: the parser check is skipped"
	else test $rc = 0 && say "$(cat n.txt) samples parsed"; fi
'
test_expect_success 'every family the contract names is exported, with HELP and TYPE' '
	"$PY" "$SRCDIR/tests/t/prom.py" m.txt families >fam.txt &&
	for f in "ragd_http_requests_total counter" "ragd_http_request_duration_seconds histogram" \
		"ragd_search_stage_duration_seconds histogram" "ragd_source_requests_total counter" \
		"ragd_source_duration_seconds histogram" "ragd_inflight_requests gauge" \
		"ragd_connections gauge" "ragd_pool_queue_depth gauge" "ragd_pool_busy_workers gauge" \
		"ragd_http_client_transfers gauge" "ragd_llm_calls_total counter" \
		"ragd_llm_retries_total counter" "ragd_llm_streamed_tokens_total counter" \
		"ragd_ingest_jobs_total counter" "ragd_documents_written_total counter" \
		"ragd_source_breaker_state gauge" "ragd_source_breaker_opened_total counter" \
		"ragd_build_info gauge"; do
		grep -qx "$f" fam.txt || { echo "missing: $f"; cat fam.txt; return 1; }
		grep -q "^# HELP ${f%% *} ." m.txt || { echo "no HELP for $f"; return 1; }
	done &&
	test "$(val ragd_build_info version="$(healthz version)")" = 1 &&
	test "$(val ragd_pool_queue_depth)" = 0 && test "$(val ragd_pool_busy_workers)" = 0 &&
	test "$(val ragd_http_client_transfers)" = 0 &&
	grep -qx "ragd_source_breaker_state{source=\"web\"} 0" m.txt &&
	at_least "$(val ragd_connections)" 1
'
test_expect_success 'a search moves the request, stage and per-source metrics' '
	scrape before.txt &&
	test "$(post_search "{\"query\":\"volcano lava\",\"timeout_ms\":30000}")" = 200 &&
	test "$(jq -r .sources.web.status out.json)" = ok && scrape &&
	test "$(moved before.txt ragd_http_requests_total route=/search code=200)" = 1 &&
	test "$(moved before.txt ragd_http_request_duration_seconds_count route=/search)" = 1 &&
	test "$(moved before.txt ragd_http_request_duration_seconds_bucket route=/search le=+Inf)" = 1 &&
	for s in web kb vector; do
		test "$(moved before.txt ragd_source_requests_total source=$s status=ok)" = 1 &&
		test "$(moved before.txt ragd_source_duration_seconds_count source=$s)" = 1 || return 1
	done &&
	test "$(moved before.txt ragd_search_stage_duration_seconds_count stage=retrieval)" = 1 &&
	test "$(moved before.txt ragd_search_stage_duration_seconds_count stage=fusion)" = 1 &&
	test "$(moved before.txt ragd_search_stage_duration_seconds_count stage=generation)" = 1 &&
	at_least "$(moved before.txt ragd_source_duration_seconds_sum source=web)" 0
'
test_expect_success 'a source that misses the deadline counts as timeout; in flight meanwhile' '
	fake_control "$UP_URL" "{\"delay_ms\":60000}" && scrape before.txt &&
	{ post_search "{\"query\":\"volcano\",\"timeout_ms\":3000,\"sources\":[\"web\"]}" slow.json >slow.code & } &&
	wait_for "scrape >/dev/null && test \"\$(val ragd_http_client_transfers)\" -ge 1" &&
	at_least "$(val ragd_inflight_requests)" 1 &&
	wait_for "test -s slow.code" &&
	test "$(cat slow.code)" = 200 && test "$(jq -r .sources.web.status slow.json)" = timeout &&
	scrape && test "$(moved before.txt ragd_source_requests_total source=web status=timeout)" = 1 &&
	fake_control "$UP_URL" "{\"reset\":true}"
'
test_expect_success 'a failing source counts as error; a disabled or skipped one as such' '
	fake_control "$UP_URL" "{\"mode\":\"fail\",\"status\":503}" && scrape before.txt &&
	test "$(post_search "{\"query\":\"volcano\",\"timeout_ms\":30000,\"sources\":[\"web\"]}")" = 200 &&
	scrape && test "$(moved before.txt ragd_source_requests_total source=web status=error)" = 1 &&
	fake_control "$UP_URL" "{\"reset\":true}"
'
test_expect_success 'labels are route templates: ids and unknown paths make no series' '
	scrape before.txt &&
	test "$(curl -s -o /dev/null -w "%{http_code}" "$RAGD_URL/documents/no-such-doc-4242")" = 404 &&
	test "$(curl -s -o /dev/null -w "%{http_code}" "$RAGD_URL/jobs/987654")" = 404 &&
	test "$(curl -s -o /dev/null -w "%{http_code}" "$RAGD_URL/no/such/path-777")" = 404 &&
	scrape &&
	test "$(moved before.txt ragd_http_requests_total route=/documents/{id} code=404)" = 1 &&
	test "$(moved before.txt ragd_http_requests_total route=/jobs/{id} code=404)" = 1 &&
	test "$(moved before.txt ragd_http_requests_total route=other code=404)" = 1 &&
	! grep -E "4242|987654|path-777" m.txt &&
	"$PY" "$SRCDIR/tests/t/prom.py" m.txt labels ragd_http_requests_total route >routes.txt &&
	! grep -v -x -E "/search|/metrics|/healthz|/documents/\{id\}|/jobs/\{id\}|other" routes.txt
'
test_expect_success 'generation moves the LLM calls and streamed tokens; a 503 is retried once' '
	scrape before.txt &&
	curl -s -N -H "Accept: text/event-stream" -H "Content-Type: application/json" \
		--data-binary "{\"query\":\"volcano\",\"generate\":true,\"stream\":true,\"timeout_ms\":30000}" \
		"$RAGD_URL/search" >sse.txt && grep -q "^event: done" sse.txt &&
	scrape && test "$(moved before.txt ragd_llm_calls_total outcome=ok)" = 1 &&
	at_least "$(moved before.txt ragd_llm_streamed_tokens_total)" 2 &&
	test "$(moved before.txt ragd_llm_retries_total)" = 0 &&
	fake_control "$LLM_URL" "{\"mode\":\"fail\",\"status\":503}" && cp m.txt before.txt &&
	test "$(post_search "{\"query\":\"volcano\",\"generate\":true,\"timeout_ms\":30000}")" = 200 &&
	scrape && test "$(moved before.txt ragd_llm_retries_total)" = 1 &&
	test "$(moved before.txt ragd_llm_calls_total outcome=error)" = 1 &&
	fake_control "$LLM_URL" "{\"reset\":true}"
'
test_expect_success 'a job moves the jobs and documents-written counters' '
	scrape before.txt &&
	printf "%s" "{\"documents\":[{\"id\":\"m1\",\"text\":\"granite\"},{\"id\":\"m2\",\"text\":\"basalt\"}],\"into\":[\"kb\"]}" >docs.json &&
	test "$(curl -s -o job.json -w "%{http_code}" -H "Content-Type: application/json" \
		--data-binary @docs.json "$RAGD_URL/documents")" = 202 &&
	job=$(jq -r .job job.json) &&
	wait_for "test \"\$(curl -s $RAGD_URL/jobs/$job | jq -r .status)\" = done" &&
	wait_for "scrape >/dev/null && test \"\$(moved before.txt ragd_ingest_jobs_total status=done)\" = 1" &&
	test "$(moved before.txt ragd_documents_written_total)" = 2 &&
	test "$(moved before.txt ragd_http_requests_total route=/documents code=202)" = 1
'
test_expect_success 'X-Request-Id: a valid one is echoed, in the body too; others are replaced' '
	curl -s -D h1.txt -o b1.json -H "X-Request-Id: client.id-1_A" "$RAGD_URL/search?q=volcano" &&
	tr -d "\r" <h1.txt | grep -qx "X-Request-Id: client.id-1_A" &&
	test "$(jq -r .request_id b1.json)" = client.id-1_A && validate search-response b1.json &&
	long=$(printf "%065d" 0) &&
	for bad in "$long" "has space" "semi;colon" ""; do
		curl -s -D h2.txt -o /dev/null -H "X-Request-Id: $bad" "$RAGD_URL/healthz" &&
		id=$(tr -d "\r" <h2.txt | sed -n "s/^X-Request-Id: //p") &&
		test -n "$id" && test "$id" != "$bad" &&
		echo "$id" | grep -qxE "[A-Za-z0-9._-]{1,64}" || return 1
	done &&
	a=$(curl -s -D - -o /dev/null "$RAGD_URL/healthz" | tr -d "\r" | sed -n "s/^X-Request-Id: //p") &&
	b=$(curl -s -D - -o /dev/null "$RAGD_URL/nope" | tr -d "\r" | sed -n "s/^X-Request-Id: //p") &&
	test -n "$a" && test -n "$b" && test "$a" != "$b" &&
	curl -s -o chat.json -H "X-Request-Id: chat-7" -H "Content-Type: application/json" \
		--data-binary "{\"messages\":[{\"role\":\"user\",\"content\":\"volcano\"}]}" \
		"$RAGD_URL/v1/chat/completions" && test "$(jq -r .ragd.request_id chat.json)" = chat-7 &&
	curl -s -o batch.json -H "X-Request-Id: batch-9" -H "Content-Type: application/json" \
		--data-binary "{\"queries\":[{\"query\":\"volcano\"},{\"query\":\"tides\"}]}" \
		"$RAGD_URL/search/batch" && validate batch-response batch.json &&
	jq -e "[.results[].request_id] == [\"batch-9\", \"batch-9\"]" batch.json >/dev/null
'
test_expect_success 'the access log: one JSON line per request, with its fields, no query text' '
	curl -s -o /dev/null -H "X-Request-Id: secret-probe" -H "Authorization: Bearer $SEARCHKEY" \
		"$RAGD_URL/search?q=$SECRET_WORD+volcano" &&
	wait_for "grep -q secret-probe access.log" &&
	"$PY" -c "
import json, sys
lines = open(\"access.log\").read().splitlines()
assert lines, \"empty log\"
for l in lines:
    e = json.loads(l)
    for k in (\"time\", \"request_id\", \"method\", \"route\", \"status\", \"bytes\", \"latency_ms\", \"cached\", \"coalesced\"):
        assert k in e, (k, l)
    assert \"?\" not in e[\"route\"], l
e = [json.loads(l) for l in lines if \"secret-probe\" in l][0]
assert e[\"method\"] == \"GET\" and e[\"route\"] == \"/search\" and e[\"status\"] == 200, e
assert e[\"bytes\"] > 0 and e[\"latency_ms\"] >= 0 and e[\"cached\"] is False and e[\"coalesced\"] is False, e
assert set(e[\"sources\"]) == {\"web\", \"kb\", \"vector\"}, e
for s in e[\"sources\"].values():
    assert s[\"status\"] in (\"ok\", \"error\", \"timeout\", \"skipped\", \"disabled\") and s[\"latency_ms\"] >= 0, e
assert any(json.loads(l)[\"status\"] == 404 and json.loads(l)[\"route\"] == \"/no/such/path-777\" for l in lines)
" &&
	! grep -q "$SECRET_WORD" access.log && ! grep -qi "authorization\|bearer" access.log &&
	! grep -q "$SEARCHKEY" access.log && ! grep -q "$SECRET_WORD" "$RAGD_LOG"
'
test_expect_success 'without --access-log the lines go to stderr; --log-queries adds the query' '
	stop_ragd && start_ragd --db "$DB" --log-queries &&
	curl -s -o /dev/null -H "X-Request-Id: q-probe" "$RAGD_URL/search?q=$SECRET_WORD" &&
	wait_for "grep -q q-probe \"$RAGD_LOG\"" &&
	grep q-probe "$RAGD_LOG" | jq -e ".query == \"$SECRET_WORD\"" >/dev/null
'
test_expect_success '/metrics stays open on loopback even with keys' '
	cat >keys.json <<-EOK &&
	{"keys": [{"name": "s", "key": "$SEARCHKEY", "scopes": ["search"]},
	          {"name": "a", "key": "$ADMINKEY", "scopes": ["admin"]}]}
	EOK
	chmod 600 keys.json && stop_ragd && start_ragd --db "$DB" --api-keys keys.json &&
	test "$(scrape)" = 200
'
test_expect_success 'on another address /metrics needs the admin scope: 401, 403, 200' '
	stop_ragd && start_ragd --db "$DB" --api-keys keys.json --listen 0.0.0.0:0 &&
	test "$(scrape)" = 401 && tr -d "\r" <mhdr.txt | grep -qi "^WWW-Authenticate: Bearer" &&
	test "$(curl -s -o out.json -w "%{http_code}" -H "Authorization: Bearer $SEARCHKEY" "$RAGD_URL/metrics")" = 403 &&
	validate error out.json &&
	test "$(curl -s -o m.txt -w "%{http_code}" -H "Authorization: Bearer $ADMINKEY" "$RAGD_URL/metrics")" = 200 &&
	grep -q "^ragd_build_info" m.txt
'
test_expect_success 'on another address with no keys, /metrics is refused with a message' '
	stop_ragd && start_ragd --db "$DB" --listen 0.0.0.0:0 &&
	test "$(scrape out.json)" = 403 && validate error out.json &&
	jq -r .error.message out.json | grep -q "admin" &&
	test "$(curl -s -o /dev/null -w "%{http_code}" "$RAGD_URL/search?q=volcano")" = 200
'
test_expect_success 'ragd stops cleanly' '
	stop_ragd
'
test_done
