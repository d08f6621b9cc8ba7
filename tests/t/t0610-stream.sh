#!/bin/sh
# Streaming: Server-Sent Events as each source finishes, the contexts, every
# token as the LLM sends it, and done; a client that leaves mid-stream
# cancels the upstream LLM transfer.
. "$SRCDIR/tests/t/lib.sh"
DB=$TEST_DIR/s.db

# events FILE: the event names of a stream, one per line.
events() { sed -n "s/^event: //p" "$1"; }
# tokens FILE: the concatenated text of its token events.
tokens() { sed -n "s/^data: //p" "$1" | jq -rj "select(.text != null) | .text"; }

test_expect_success 'setup' '
	ingest_fixture "$DB" && start_fakeup LLM && start_ragd --db "$DB"
'
test_expect_success 'stream: true gives source, contexts, token and done events in order' '
	curl -sN -H "Content-Type: application/json" -d "{\"query\":\"what causes ocean tides\",\"stream\":true}" "$RAGD_URL/search" >s.txt &&
	events s.txt >names.txt &&
	test "$(grep -c "^source$" names.txt)" = 3 &&
	test "$(sed -n 4p names.txt)" = contexts &&
	test "$(tail -n 1 names.txt)" = done &&
	grep -q "^token$" names.txt &&
	validate --sse search-events s.txt
'
test_expect_success 'the tokens add up to the answer in done' '
	test "$(tokens s.txt)" = "$(sed -n "s/^data: //p" s.txt | tail -n 1 | jq -r .answer)"
'
test_expect_success 'a stream without generation ends with done and no answer' '
	curl -sN -H "Content-Type: application/json" -d "{\"query\":\"tides\",\"stream\":true,\"generate\":false}" "$RAGD_URL/search" >ng.txt &&
	test "$(events ng.txt | tail -n 1)" = done && ! events ng.txt | grep -q "^token$" &&
	sed -n "s/^data: //p" ng.txt | tail -n 1 | jq -e ".answer == null and .citations == [] and .generation == null" >/dev/null &&
	validate --sse search-events ng.txt
'
test_expect_success 'Accept: text/event-stream asks for the stream too' '
	curl -sN -H "Accept: text/event-stream" "$RAGD_URL/search?q=volcano" >a.txt &&
	test "$(events a.txt | tail -n 1)" = done
'
test_expect_success 'LLM tokens are streamed as they arrive, equal to the whole answer' '
	stop_ragd && start_ragd --db "$DB" --llm-url "$LLM_URL/v1" &&
	post_search "{\"query\":\"café façades\"}" >/dev/null && whole=$(jq -r .answer out.json) &&
	curl -sN -H "Content-Type: application/json" -d "{\"query\":\"café façades\",\"stream\":true}" "$RAGD_URL/search" >l.txt &&
	test "$(events l.txt | grep -c "^token$")" -ge 5 &&
	test "$(tokens l.txt)" = "$whole" &&
	validate --sse search-events l.txt
'
test_expect_success 'deltas split at awkward bytes (inside UTF-8) arrive intact' '
	stop_ragd && start_ragd --db "$DB" --llm-url "$LLM_URL/@mode=split/v1" &&
	curl -sN -H "Content-Type: application/json" -d "{\"query\":\"café façades\",\"stream\":true}" "$RAGD_URL/search" >sp.txt &&
	test "$(tokens sp.txt)" = "$whole" &&
	tokens sp.txt | grep -q "café ∑ 🙂"
'
test_expect_success 'an LLM stream that ends early: error event, then done' '
	stop_ragd && start_ragd --db "$DB" --llm-url "$LLM_URL/@mode=stream_close/v1" &&
	curl -sN -H "Content-Type: application/json" -d "{\"query\":\"volcano\",\"stream\":true}" "$RAGD_URL/search" >e.txt &&
	events e.txt | grep -q "^error$" && test "$(events e.txt | tail -n 1)" = done &&
	sed -n "s/^data: //p" e.txt | tail -n 1 | jq -e ".generation.status == \"error\"" >/dev/null &&
	validate --sse search-events e.txt
'
# The LLM stream lasts 100 s; the client leaves as soon as it has a token.
test_expect_success 'a client leaving mid-stream cancels the LLM transfer' '
	stop_ragd && start_ragd --db "$DB" --llm-url "$LLM_URL/@token_delay_ms=100/@tokens=1000/v1" &&
	curl -s "$LLM_URL/_control" -d "{\"reset_stats\":true}" >/dev/null &&
	{ curl -sN -m 120 -H "Content-Type: application/json" -d "{\"query\":\"volcano\",\"stream\":true}" "$RAGD_URL/search" >c.txt & } &&
	cpid=$! && wait_for "events c.txt | grep -q ^token$" &&
	kill $cpid && { wait $cpid || :; } &&
	wait_for "fake_stat $LLM_URL .streams_aborted==1" &&
	wait_for "live_searches 0"
'
test_expect_success 'ragd stops cleanly' '
	stop_ragd
'
test_done
