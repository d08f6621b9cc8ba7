#!/bin/sh
# The fault matrix: every way an HTTP upstream can fail -- too slow for its
# deadline, 5xx, refused, reset, dropped, garbage, truncated, cut short,
# huge, stalled -- for the web source and for the LLM (whole answers and
# streams), and a client that leaves before retrieval answers, during
# generation and mid-stream.  Every request gets the documented answer: 200
# with the failing source or the generation reported and everything else
# kept; ragd stays healthy, cancels the upstream calls nobody waits for, and
# exits LeakSanitizer-clean (the suite builds it with ASan, detect_leaks=1).
. "$SRCDIR/tests/t/lib.sh"
# web fails over and over on purpose here, and its requests are counted: no
# circuit breaker (it would skip web) and no hedging (it would add requests).
DB=$TEST_DIR/f.db

# Deadlines: retrieval and generation get 1 s each, 10 times more than a
# healthy fake upstream needs under ASan on a loaded machine; a slow upstream
# is 60 times slower than that.
Q='{"query":"volcano lava","timeout_ms":1000}'
QS='{"query":"volcano lava","timeout_ms":1000,"stream":true}'

# web_mode MODE / llm_mode MODE: the behaviour of each fake upstream.
web_mode() { fake_control "$WEB_URL" "{\"reset\":true,\"mode\":\"$1\",\"slow_ms\":60000}"; }
llm_mode() { fake_control "$LLM_URL" "{\"reset\":true,\"mode\":\"$1\",\"slow_ms\":60000}"; }

# ask JSON: POST /search; the answer is a schema-valid 200 in out.json.
ask() {
	code=$(post_search "$1")
	test "$code" = 200 || { echo "HTTP $code"; cat out.json; return 1; }
	validate search-response out.json
}

# check JQ: out.json satisfies JQ, or is shown.
check() {
	jq -e "$1" out.json >/dev/null || { echo "expected: $1"; jq . out.json; return 1; }
}

# web_fails MODE STATUS REGEX: with the web upstream in MODE, a search
# reports web as STATUS with an error matching REGEX and is partial; the
# other sources answered and gave the best hit, no context comes from web,
# and the generation still ran.
web_fails() {
	web_mode "$1" && llm_mode ok && ask "$Q" &&
	check ".sources.web.status == \"$2\" and (.sources.web.error | test(\"$3\"; \"i\"))" &&
	check '.partial == true and .sources.kb.status == "ok" and .sources.vector.status == "ok"' &&
	check '.contexts[0].id == "d07" and ([.contexts[] | select(.source == "web")] | length) == 0' &&
	check '.generation.status == "ok" and (.answer | type) == "string"'
}

# gen_failed STATUS REGEX: the generation is STATUS with an error matching
# REGEX, the answer null with no citations (in out.json: a response, or a
# stream's done event).
gen_failed() {
	check ".generation.status == \"$1\" and (.generation.error | test(\"$2\"; \"i\"))" &&
	check '.answer == null and .citations == [] and .generation.generator == "llm" and .partial == false'
}

# llm_fails MODE STATUS REGEX: with the LLM in MODE, a search (whole LLM
# answer) keeps the retrieval and reports the generation as STATUS.
llm_fails() {
	web_mode ok && llm_mode "$1" && ask "$Q" && gen_failed "$2" "$3" &&
	check '([.sources[].status] | unique) == ["ok"] and .contexts[0].id == "d07"'
}

# event_data FILE NAME: the data of every NAME event of a stream.
event_data() {
	awk -v n="$2" '/^event: / { e = substr($0, 8) } /^data: / && e == n { print substr($0, 7) }' "$1"
}

# stream_fails MODE STATUS REGEX: with the LLM in MODE, a streamed search
# sends the contexts, an error event for the generation (code "timeout" for
# a timeout), and done with the generation STATUS, no answer, and the
# retrieval kept.
stream_fails() {
	web_mode ok && llm_mode "$1" &&
	curl -sN -m 60 -H "Content-Type: application/json" -d "$QS" "$RAGD_URL/search" >s.txt &&
	validate --sse search-events s.txt &&
	sed -n "s/^event: //p" s.txt | tail -n 1 | grep -qx done || { echo "no done event last"; cat s.txt; return 1; }
	event_data s.txt contexts | jq -e '.partial == false and .contexts[0].id == "d07" and ([.sources[].status] | unique) == ["ok"]' >/dev/null &&
	event_data s.txt error | jq -e --arg st "$2" '.stage == "generation" and (.code | length > 0) and ((.code == "timeout") == ($st == "timeout"))' >/dev/null &&
	event_data s.txt done >out.json && gen_failed "$2" "$3" || { cut -c1-300 s.txt; return 1; }
}

test_expect_success 'setup: store, fake web and LLM upstreams, a closed port, ragd' '
	ingest_fixture "$DB" && start_fakeup WEB && start_fakeup LLM && start_fakeup GONE &&
	kill "$GONE_PID" && { wait "$GONE_PID" || :; } &&
	start_ragd --db "$DB" --web-url "$WEB_URL" --breaker-failures 0 --hedge-share 0 --llm-url "$LLM_URL/v1" --llm-timeout-ms 1000 &&
	ask "$Q" && check ".partial == false and .generation.status == \"ok\""
'

# ---- the web source (the fake upstream as SearxNG) ------------------------
test_expect_success 'web slow past its deadline: timeout, at the deadline, not before' '
	web_fails slow timeout "within" &&
	check ".sources.web.latency_ms >= 500 and .timing_ms.retrieval < 10000"
'
test_expect_success 'web 5xx: error naming the status' '
	web_fails fail error "HTTP 503"
'
test_expect_success 'web reset (RST): error' '
	web_fails reset error "reset"
'
test_expect_success 'web closes without answering: error' '
	web_fails drop error "empty|closed"
'
test_expect_success 'web garbage: error naming malformed JSON' '
	web_fails garbage error "malformed JSON"
'
test_expect_success 'web JSON cut in half: error naming the JSON' '
	web_fails truncate error "JSON"
'
test_expect_success 'web body shorter than its Content-Length: error' '
	web_fails cut error "closed|partial|remaining"
'
test_expect_success 'web huge body (64 MiB): error naming the size' '
	web_fails huge error "larger than"
'
test_expect_success 'web stalls mid-body: timeout at the deadline' '
	web_fails stall timeout "within"
'
test_expect_success 'web faults leave nothing behind: no live search, no upstream call held' '
	web_mode ok && wait_for "live_searches 0" && wait_for "fake_stat $WEB_URL .active==0"
'

# ---- the LLM, whole answers (a JSON /search) ---------------------------------
test_expect_success 'LLM slow past its deadline: generation timeout, retrieval kept' '
	llm_fails slow timeout "deadline|within|time" &&
	check ".generation.latency_ms >= 500 and .generation.latency_ms < 10000"
'
test_expect_success 'LLM 5xx: generation error naming the status' '
	llm_fails fail error "503"
'
test_expect_success 'LLM reset (RST): generation error' '
	llm_fails reset error "reset"
'
test_expect_success 'LLM closes without answering: generation error' '
	llm_fails drop error "empty|closed"
'
test_expect_success 'LLM garbage: generation error naming malformed JSON' '
	llm_fails garbage error "malformed"
'
test_expect_success 'LLM JSON cut in half: generation error' '
	llm_fails truncate error "JSON"
'
test_expect_success 'LLM body shorter than its Content-Length: generation error' '
	llm_fails cut error "closed|partial|remaining"
'
test_expect_success 'LLM huge body (64 MiB): generation error naming the size' '
	llm_fails huge error "larger than"
'
test_expect_success 'LLM stalls mid-body: generation timeout' '
	llm_fails stall timeout "deadline|within|time"
'

# ---- the LLM, streamed (stream: true) ---------------------------------------
test_expect_success 'LLM stream slow past its deadline: error event, done with timeout' '
	stream_fails slow timeout "deadline|within|time"
'
test_expect_success 'LLM stream 5xx: error event, done with the status' '
	stream_fails fail error "503"
'
test_expect_success 'LLM stream reset (RST): error event, done with error' '
	stream_fails reset error "reset"
'
test_expect_success 'LLM stream of garbage events: error event naming the stream' '
	stream_fails garbage error "malformed"
'
test_expect_success 'LLM stream cut mid-event: error event, done with error' '
	stream_fails truncate error "ended early"
'
test_expect_success 'LLM stream with a huge single SSE line (64 MiB): error naming the size' '
	stream_fails huge error "larger than"
'
test_expect_success 'LLM stream that stalls after two tokens: error event, done with timeout' '
	stream_fails stall timeout "deadline|within|time"
'
test_expect_success 'LLM faults leave nothing behind: no live search, no LLM call held' '
	llm_mode ok && wait_for "live_searches 0" && wait_for "fake_stat $LLM_URL .active==0"
'

# ---- the client leaves --------------------------------------------------------
# Each step holds the upstream in the stage it tests (mode hang, or a long
# stream), sees from both sides that the request is there, then kills the
# client, and waits for ragd to free the search and cancel the upstream call.
test_expect_success 'client gone before retrieval answers: search freed, web call cancelled' '
	web_mode hang && llm_mode ok && fake_control "$LLM_URL" "{\"reset_stats\":true}" &&
	{ curl -s -m 120 -H "Content-Type: application/json" -d "{\"query\":\"volcano\",\"timeout_ms\":60000}" "$RAGD_URL/search" >/dev/null & } &&
	cpid=$! && wait_for "live_searches 1 && fake_stat $WEB_URL .hanging==1" &&
	kill $cpid && { wait $cpid || :; } &&
	wait_for "live_searches 0" && wait_for "fake_stat $WEB_URL .hanging==0" &&
	fake_stat "$WEB_URL" ".abandoned >= 1" && fake_stat "$LLM_URL" ".requests == 0" &&
	curl -sf "$RAGD_URL/healthz" >/dev/null
'
test_expect_success 'client gone during generation: search freed, LLM call cancelled' '
	web_mode ok && llm_mode hang && fake_control "$LLM_URL" "{\"reset_stats\":true}" &&
	{ curl -s -m 120 -H "Content-Type: application/json" -d "$Q" "$RAGD_URL/search" >/dev/null & } &&
	cpid=$! && wait_for "live_searches 1 && fake_stat $LLM_URL .hanging==1" &&
	kill $cpid && { wait $cpid || :; } &&
	wait_for "live_searches 0" && wait_for "fake_stat $LLM_URL .hanging==0" &&
	fake_stat "$LLM_URL" ".abandoned == 1" &&
	curl -sf "$RAGD_URL/healthz" >/dev/null
'
test_expect_success 'client gone mid-stream: search freed, LLM stream aborted' '
	web_mode ok && fake_control "$LLM_URL" "{\"reset\":true,\"reset_stats\":true,\"token_delay_ms\":100,\"tokens\":1000}" &&
	{ curl -sN -m 120 -H "Content-Type: application/json" -d "{\"query\":\"volcano lava\",\"stream\":true}" "$RAGD_URL/search" >c.txt & } &&
	cpid=$! && wait_for "grep -q \"^event: token\" c.txt" &&
	kill $cpid && { wait $cpid || :; } &&
	wait_for "fake_stat $LLM_URL .streams_aborted==1" && wait_for "live_searches 0" &&
	curl -sf "$RAGD_URL/healthz" >/dev/null
'
test_expect_success 'client gone while the LLM stream stalls: search freed, LLM stream aborted' '
	llm_mode stall && fake_control "$LLM_URL" "{\"reset_stats\":true}" &&
	{ curl -sN -m 120 -H "Content-Type: application/json" -d "{\"query\":\"volcano lava\",\"stream\":true}" "$RAGD_URL/search" >c2.txt & } &&
	cpid=$! && wait_for "fake_stat $LLM_URL .stalls==1" && wait_for "grep -q \"^event: token\" c2.txt" &&
	kill $cpid && { wait $cpid || :; } &&
	wait_for "fake_stat $LLM_URL .streams_aborted==1" && wait_for "live_searches 0" &&
	curl -sf "$RAGD_URL/healthz" >/dev/null
'
test_expect_success 'after the whole matrix ragd exits 0, LeakSanitizer-clean' '
	stop_ragd
'

# ---- refused connections: a ragd whose web source and LLM are a closed port
test_expect_success 'web and LLM refused: both errors name the connection, the rest kept' '
	start_ragd --db "$DB" --web-url "$GONE_URL" --breaker-failures 0 --llm-url "$GONE_URL/v1" --llm-timeout-ms 1000 &&
	ask "$Q" &&
	check ".sources.web.status == \"error\" and (.sources.web.error | test(\"connect\"; \"i\"))" &&
	check ".partial == true and .sources.kb.status == \"ok\" and .sources.vector.status == \"ok\" and .contexts[0].id == \"d07\"" &&
	check ".generation.status == \"error\" and (.generation.error | test(\"connect\"; \"i\")) and .answer == null"
'
test_expect_success 'the same streamed: web source event, error event, done with error' '
	curl -sN -m 60 -H "Content-Type: application/json" -d "$QS" "$RAGD_URL/search" >r.txt &&
	validate --sse search-events r.txt &&
	event_data r.txt source | jq -se "map(select(.name == \"web\")) | .[0].status == \"error\"" >/dev/null &&
	event_data r.txt error | jq -e ".stage == \"generation\"" >/dev/null &&
	event_data r.txt done | jq -e ".generation.status == \"error\" and .answer == null and .partial == true" >/dev/null
'
test_expect_success 'and exits 0, LeakSanitizer-clean' '
	stop_ragd
'
test_done
