#!/bin/sh
# The OpenAI-compatible surface and CORS: GET /v1/models names the model
# ragd answers as, every chat completion has its own id (shared by the
# chunks of one stream) and an approximate usage; a browser on an allowed
# origin gets CORS headers on every reply, streams included, and its
# preflight OPTIONS a 204; any other origin gets no CORS header.
. "$SRCDIR/tests/t/lib.sh"
DB=$TEST_DIR/o.db
APP=https://app.example
chat() { curl -s -o "${2:-chat.json}" -w "%{http_code}" -H "Content-Type: application/json" -d "$1" "$RAGD_URL/v1/chat/completions"; }
TIDES='{"messages":[{"role":"user","content":"what causes ocean tides"}]}'

test_expect_success 'setup' '
	ingest_fixture "$DB" && start_ragd --db "$DB" --cors-origin "$APP" --cors-origin http://other.example:8000
'
test_expect_success 'GET /v1/models lists "ragd" without an LLM' '
	test "$(curl -s -o models.json -w "%{http_code}" "$RAGD_URL/v1/models")" = 200 &&
	validate models models.json &&
	jq -e ".object == \"list\" and (.data | length) == 1 and .data[0].id == \"ragd\" and .data[0].object == \"model\" and .data[0].owned_by == \"ragd\" and .data[0].created > 1600000000" models.json >/dev/null
'
test_expect_success 'POST /v1/models: 405' '
	test "$(curl -s -o err.json -w "%{http_code}" -d "{}" "$RAGD_URL/v1/models")" = 405 &&
	validate error err.json
'
test_expect_success 'two chat completions have different ids' '
	test "$(chat "$TIDES" a.json)" = 200 && test "$(chat "$TIDES" b.json)" = 200 &&
	validate chat-completion a.json && validate chat-completion b.json &&
	a=$(jq -r .id a.json) && b=$(jq -r .id b.json) &&
	case $a in chatcmpl-?*) ;; *) false ;; esac &&
	test "$a" != "$b"
'
test_expect_success 'usage counts the prompt and the answer, approximately' '
	jq -e ".usage.prompt_tokens > 0 and .usage.completion_tokens > 0 and .usage.total_tokens == .usage.prompt_tokens + .usage.completion_tokens" a.json >/dev/null &&
	words=$(jq -r ".choices[0].message.content" a.json | wc -w) &&
	jq -e ".usage.completion_tokens >= $words" a.json >/dev/null
'
test_expect_success 'every chunk of one stream shares one id, unlike another stream' '
	curl -sN -H "Content-Type: application/json" -d "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"what causes ocean tides\"}]}" "$RAGD_URL/v1/chat/completions" >st1.txt &&
	curl -sN -H "Content-Type: application/json" -d "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"what causes ocean tides\"}]}" "$RAGD_URL/v1/chat/completions" >st2.txt &&
	test "$(sed -n "s/^data: //p" st1.txt | grep -v "^\[DONE\]" | wc -l)" -ge 2 &&
	test "$(sed -n "s/^data: //p" st1.txt | grep -v "^\[DONE\]" | jq -r .id | sort -u | wc -l)" = 1 &&
	i1=$(sed -n "s/^data: //p" st1.txt | head -n 1 | jq -r .id) &&
	i2=$(sed -n "s/^data: //p" st2.txt | head -n 1 | jq -r .id) &&
	test "$i1" != "$i2" && test "$i1" != "$(jq -r .id a.json)"
'
test_expect_success 'an allowed origin gets its own origin back and Vary: Origin' '
	curl -s -D hdr.txt -o out.json -H "Origin: $APP" -H "Content-Type: application/json" \
		-d "{\"query\":\"volcano\"}" "$RAGD_URL/search" &&
	grep -qi "^Access-Control-Allow-Origin: $APP" hdr.txt &&
	grep -qi "^Vary: Origin" hdr.txt && validate search-response out.json
'
test_expect_success 'a disallowed origin, or none, gets no CORS header' '
	curl -s -D hdr.txt -o out.json -H "Origin: https://evil.example" -H "Content-Type: application/json" \
		-d "{\"query\":\"volcano\"}" "$RAGD_URL/search" &&
	grep -q "^HTTP/1.1 200" hdr.txt && ! grep -qi "^Access-Control-" hdr.txt &&
	curl -s -D hdr.txt -o out.json "$RAGD_URL/healthz" && ! grep -qi "^Access-Control-" hdr.txt &&
	test "$(curl -s -o /dev/null -w "%{http_code}" -X OPTIONS -H "Origin: https://evil.example" -H "Access-Control-Request-Method: POST" "$RAGD_URL/search")" = 405
'
test_expect_success 'a preflight from an allowed origin is answered 204 on any route' '
	for path in /search /v1/chat/completions /documents /documents/x1 /jobs /v1/models /nowhere; do
		test "$(curl -s -D hdr.txt -o body.txt -w "%{http_code}" -X OPTIONS -H "Origin: http://other.example:8000" \
			-H "Access-Control-Request-Method: POST" -H "Access-Control-Request-Headers: authorization, content-type" \
			"$RAGD_URL$path")" = 204 &&
		grep -qi "^Access-Control-Allow-Origin: http://other.example:8000" hdr.txt &&
		grep -qi "^Access-Control-Allow-Methods: .*POST" hdr.txt &&
		grep -i "^Access-Control-Allow-Headers:" hdr.txt | grep -qi "authorization" &&
		grep -i "^Access-Control-Allow-Headers:" hdr.txt | grep -qi "content-type" &&
		grep -i "^Access-Control-Allow-Headers:" hdr.txt | grep -qi "x-request-id" &&
		grep -qi "^Access-Control-Max-Age: [1-9]" hdr.txt &&
		test ! -s body.txt || return 1
	done
'
test_expect_success 'SSE replies carry the CORS header' '
	curl -sN -D hdr.txt -o st.txt -H "Origin: $APP" -H "Content-Type: application/json" \
		-d "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"tides\"}]}" "$RAGD_URL/v1/chat/completions" &&
	grep -qi "^Content-Type: text/event-stream" hdr.txt &&
	grep -qi "^Access-Control-Allow-Origin: $APP" hdr.txt &&
	curl -sN -D hdr.txt -o st.txt -H "Origin: $APP" -H "Accept: text/event-stream" \
		"$RAGD_URL/search?q=tides" &&
	grep -qi "^Access-Control-Allow-Origin: $APP" hdr.txt
'
test_expect_success 'errors carry the CORS header too' '
	test "$(curl -s -D hdr.txt -o err.json -w "%{http_code}" -H "Origin: $APP" "$RAGD_URL/nowhere")" = 404 &&
	grep -qi "^Access-Control-Allow-Origin: $APP" hdr.txt && validate error err.json
'
test_expect_success 'with an LLM, /v1/models lists its model' '
	stop_ragd && start_ragd --db "$DB" --llm-url http://127.0.0.1:9/v1 --llm-model tiny-model-7b &&
	curl -s -o models.json "$RAGD_URL/v1/models" && validate models models.json &&
	jq -e ".data[0].id == \"tiny-model-7b\"" models.json >/dev/null
'
test_expect_success 'no origins configured: no CORS headers, OPTIONS is 405' '
	curl -s -D hdr.txt -o out.json -H "Origin: $APP" "$RAGD_URL/v1/models" &&
	! grep -qi "^Access-Control-" hdr.txt &&
	test "$(curl -s -o /dev/null -w "%{http_code}" -X OPTIONS -H "Origin: $APP" "$RAGD_URL/search")" = 405
'
test_expect_success 'cors_origins from the config file; a bad origin is refused at start' '
	stop_ragd &&
	printf "{\"db\":\"%s\",\"cors_origins\":[\"%s\"]}" "$DB" "$APP" >cfg.json &&
	validate config cfg.json &&
	start_ragd --config cfg.json &&
	curl -s -D hdr.txt -o out.json -H "Origin: $APP" "$RAGD_URL/healthz" &&
	grep -qi "^Access-Control-Allow-Origin: $APP" hdr.txt &&
	! "$RAGD" serve --db "$DB" --listen 127.0.0.1:0 --cors-origin "https://a b" 2>refused.txt &&
	grep -q "cors origin" refused.txt
'
test_expect_success 'with API keys, /v1/models needs the search scope' '
	stop_ragd &&
	printf "{\"keys\":[{\"name\":\"r\",\"key\":\"k-read-5ecret-0123456789\",\"scopes\":[\"search\"]}]}" >keys.json &&
	chmod 600 keys.json && start_ragd --db "$DB" --api-keys keys.json &&
	test "$(curl -s -o err.json -w "%{http_code}" "$RAGD_URL/v1/models")" = 401 &&
	test "$(curl -s -o models.json -w "%{http_code}" -H "Authorization: Bearer k-read-5ecret-0123456789" "$RAGD_URL/v1/models")" = 200 &&
	stop_ragd
'
test_done
