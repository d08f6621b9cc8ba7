#!/bin/sh
# ragd as a model: POST /v1/chat/completions, whole and streamed, answers
# the last user message with retrieval and generation, plus citations.
. "$SRCDIR/tests/t/lib.sh"
DB=$TEST_DIR/c.db
chat() { curl -s -o "${2:-chat.json}" -w "%{http_code}" -H "Content-Type: application/json" -d "$1" "$RAGD_URL/v1/chat/completions"; }

test_expect_success 'setup' '
	ingest_fixture "$DB" && start_ragd --db "$DB"
'
test_expect_success 'a chat completion answers the last user message, with citations' '
	test "$(chat "{\"model\":\"ragd\",\"messages\":[{\"role\":\"user\",\"content\":\"coffee\"},{\"role\":\"assistant\",\"content\":\"?\"},{\"role\":\"user\",\"content\":\"what causes ocean tides\"}]}")" = 200 &&
	validate chat-completion chat.json &&
	jq -r ".choices[0].message.content" chat.json | grep -q moon &&
	jq -e ".citations | length >= 1 and all(.[]; .id != null)" chat.json >/dev/null &&
	jq -e ".model == \"ragd\" and .ragd.query == \"what causes ocean tides\"" chat.json >/dev/null
'
test_expect_success 'content given as an array of text parts works too' '
	test "$(chat "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"volcano lava\"}]}]}")" = 200 &&
	jq -r ".choices[0].message.content" chat.json | grep -qi volcano
'
test_expect_success 'stream: true sends chat.completion.chunk events and [DONE]' '
	chat "{\"messages\":[{\"role\":\"user\",\"content\":\"what causes ocean tides\"}]}" whole.json >/dev/null &&
	curl -sN -H "Content-Type: application/json" -d "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"what causes ocean tides\"}]}" "$RAGD_URL/v1/chat/completions" >st.txt &&
	test "$(tail -n 2 st.txt | head -n 1)" = "data: [DONE]" &&
	sed -n "s/^data: //p" st.txt | grep -v "^\[DONE\]" | jq -e ".object == \"chat.completion.chunk\"" >/dev/null &&
	test "$(sed -n "s/^data: //p" st.txt | grep -v "^\[DONE\]" | jq -rj ".choices[0].delta.content // empty")" = "$(jq -r ".choices[0].message.content" whole.json)" &&
	sed -n "s/^data: //p" st.txt | grep -v "^\[DONE\]" | tail -n 1 | jq -e ".citations | length >= 1" >/dev/null
'
test_expect_success 'a failed generation is an empty message with finish_reason error' '
	stop_ragd && start_fakeup LLM --mode fail --status 500 &&
	start_ragd --db "$DB" --llm-url "$LLM_URL/v1" &&
	test "$(chat "{\"messages\":[{\"role\":\"user\",\"content\":\"tides\"}]}")" = 200 &&
	jq -e ".choices[0].message.content == \"\" and .choices[0].finish_reason == \"error\"" chat.json >/dev/null &&
	jq -e ".ragd.generation.status == \"error\" and (.ragd.contexts | length) > 0" chat.json >/dev/null &&
	validate chat-completion chat.json
'
test_expect_success 'no user message: 400 naming messages' '
	test "$(chat "{\"messages\":[{\"role\":\"system\",\"content\":\"hi\"}]}" err.json)" = 400 &&
	jq -r .error.message err.json | grep -q messages && validate error err.json
'
test_expect_success 'malformed JSON: 400' '
	test "$(chat "{\"messages\":" err.json)" = 400 && validate error err.json
'
test_expect_success 'an empty body: 400 body: empty' '
	test "$(chat "" err.json)" = 400 &&
	test "$(jq -r .error.message err.json)" = "body: empty" && validate error err.json
'
test_expect_success 'a long model name is echoed cut to 256 bytes, whole and streamed' '
	long=$(head -c 60000 /dev/zero | tr "\\0" m) &&
	printf "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"tides\"}]}" "$long" >long.json &&
	curl -s -o chat.json -H "Content-Type: application/json" --data-binary @long.json "$RAGD_URL/v1/chat/completions" &&
	test "$(jq -r ".model | length" chat.json)" = 256 &&
	printf "{\"stream\":true,\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"tides\"}]}" "$long" >long.json &&
	curl -sN -H "Content-Type: application/json" --data-binary @long.json "$RAGD_URL/v1/chat/completions" >st.txt &&
	sed -n "s/^data: //p" st.txt | grep -v "^\[DONE\]" | jq -e ".model | length == 256" >/dev/null &&
	test "$(wc -c <st.txt)" -lt 60000
'
test_expect_success 'GET is not allowed' '
	test "$(curl -s -o err.json -w "%{http_code}" "$RAGD_URL/v1/chat/completions")" = 405
'
test_expect_success 'ragd stops cleanly' '
	stop_ragd
'
test_done
