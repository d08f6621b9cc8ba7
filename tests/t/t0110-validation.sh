#!/bin/sh
# Bad requests get a 4xx with a JSON error naming the problem (valid against
# schemas/error.schema.json), and no input crashes or hangs the server.
. "$SRCDIR/tests/t/lib.sh"
DB=$TEST_DIR/v.db

# expect_error STATUS CODE WORD [curl args...]: the request gets STATUS, the
# body's error.code is CODE and its message contains WORD.
expect_error() {
	status=$1 code=$2 word=$3; shift 3
	got=$(curl -s -o err.json -w "%{http_code}" "$@" ) &&
	test "$got" = "$status" || { echo "status $got, want $status"; cat err.json; return 1; }
	test "$(jq -r .error.code err.json)" = "$code" || { cat err.json; return 1; }
	jq -r .error.message err.json | grep -qF -- "$word" || { cat err.json; return 1; }
	validate error err.json
}
post() { expect_error "$1" "$2" "$3" -H "Content-Type: application/json" --data-binary "$4" "$RAGD_URL/search"; }

test_expect_success 'setup' '
	ingest_fixture "$DB" && start_ragd --db "$DB"
'
test_expect_success 'malformed JSON' '
	post 400 invalid_json "JSON" "{\"query\": \"x\""
'
test_expect_success 'a body that is not an object' '
	post 400 invalid_json "object" "[\"query\"]"
'
test_expect_success 'missing query' '
	post 400 missing_field query "{\"k\": 3}"
'
test_expect_success 'empty query' '
	post 400 missing_field query "{\"query\": \"   \"}"
'
test_expect_success 'query of the wrong type' '
	post 400 invalid_field query "{\"query\": [\"x\"]}"
'
test_expect_success 'k out of range' '
	post 400 invalid_field k "{\"query\": \"x\", \"k\": 0}" &&
	post 400 invalid_field k "{\"query\": \"x\", \"k\": 101}" &&
	post 400 invalid_field k "{\"query\": \"x\", \"k\": \"ten\"}"
'
test_expect_success 'unknown source' '
	post 400 unknown_source bing "{\"query\": \"x\", \"sources\": [\"kb\", \"bing\"]}"
'
test_expect_success 'unknown field' '
	post 400 unknown_field sorces "{\"query\": \"x\", \"sorces\": [\"kb\"]}"
'
test_expect_success 'timeout_ms out of range' '
	post 400 invalid_field timeout_ms "{\"query\": \"x\", \"timeout_ms\": -5}"
'
test_expect_success 'generate and stream must be booleans' '
	post 400 invalid_field generate "{\"query\": \"x\", \"generate\": \"yes\"}" &&
	post 400 invalid_field stream "{\"query\": \"x\", \"stream\": 1}"
'
test_expect_success 'oversized body' '
	head -c 70000 /dev/zero | tr "\0" a | sed "s/^/{\"query\":\"/; s/\$/\"}/" >big.json &&
	expect_error 413 body_too_large body -H "Content-Type: application/json" --data-binary @big.json "$RAGD_URL/search"
'
test_expect_success 'oversized query' '
	head -c 5000 /dev/zero | tr "\0" a | sed "s/^/{\"query\":\"/; s/\$/\"}/" >long.json &&
	expect_error 413 query_too_long query -H "Content-Type: application/json" --data-binary @long.json "$RAGD_URL/search"
'
test_expect_success 'invalid UTF-8 in the query' '
	printf "{\"query\":\"\\377\\376\"}" >bad8.json &&
	expect_error 400 invalid_json "UTF-8" -H "Content-Type: application/json" --data-binary @bad8.json "$RAGD_URL/search" ||
	expect_error 400 invalid_json "utf-8" -H "Content-Type: application/json" --data-binary @bad8.json "$RAGD_URL/search"
'
test_expect_success 'query strings that are not UTF-8 are a 400 naming the query, not a 500' '
	bad=0 &&
	for q in %ED%A0%80 %E0%80%80 %F4%90%80%80 %F5%80%80%80 %C0%AF ok%E2%82; do
		expect_error 400 invalid_field "query: not valid UTF-8" "$RAGD_URL/search?q=$q" || { echo "q=$q"; bad=1; }
	done &&
	test $bad = 0
'
test_expect_success 'bodies that are not UTF-8 are a 400, not a 500' '
	printf "{\"query\":\"\355\240\200\"}" >sur.json &&
	expect_error 400 invalid_json "not valid UTF-8" -H "Content-Type: application/json" --data-binary @sur.json "$RAGD_URL/search" &&
	printf "{\"query\":\"\364\220\200\200\"}" >big8.json &&
	expect_error 400 invalid_json "not valid UTF-8" -H "Content-Type: application/json" --data-binary @big8.json "$RAGD_URL/search"
'
test_expect_success 'an empty body says so' '
	post 400 invalid_json "body: empty" "" &&
	post 400 invalid_json "body: empty" " "
'
test_expect_success 'a repeated query-string parameter is a 400 naming it' '
	expect_error 400 invalid_field "q: given more than once" "$RAGD_URL/search?q=a&q=b" &&
	expect_error 400 invalid_field "query: given more than once" "$RAGD_URL/search?q=a&query=b" &&
	expect_error 400 invalid_field "k: given more than once" "$RAGD_URL/search?q=a&k=1&k=2" &&
	expect_error 400 invalid_field "timeout_ms: given more than once" "$RAGD_URL/search?q=a&timeout_ms=9&timeout_ms=9" &&
	expect_error 400 invalid_field "sources: given more than once" "$RAGD_URL/search?q=a&sources=kb&sources=kb" &&
	expect_error 400 invalid_field "generate: given more than once" "$RAGD_URL/search?q=a&generate=0&generate=0" &&
	expect_error 400 invalid_field "stream: given more than once" "$RAGD_URL/search?q=a&stream=0&stream=1"
'
test_expect_success 'GET without q' '
	expect_error 400 missing_field q "$RAGD_URL/search?k=3"
'
test_expect_success 'wrong method' '
	expect_error 405 method_not_allowed "GET, POST" -X PUT "$RAGD_URL/search" &&
	expect_error 405 method_not_allowed "GET, POST" -X DELETE "$RAGD_URL/search"
'
test_expect_success 'unknown path' '
	expect_error 404 not_found "/nowhere" "$RAGD_URL/nowhere"
'
test_expect_success 'raw garbage on the socket does not hurt the server' '
	for junk in "GARBAGE\r\n\r\n" "GET /search?q=%zz HTTP/1.1\r\n\r\n" "POST /search HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n" "\0\1\2\3\4"; do
		printf "$junk" | timeout 3 curl -s telnet://${RAGD_URL#http://} >/dev/null 2>&1
	done;
	curl -sf "$RAGD_URL/healthz" >/dev/null
'
test_expect_success 'a body that arrives slowly and stops is cut off without harm' '
	( printf "POST /search HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"query\":"; sleep 1 ) |
		timeout 3 curl -s telnet://${RAGD_URL#http://} >/dev/null 2>&1;
	test "$(post_search "{\"query\":\"volcano\"}")" = 200
'
test_expect_success 'the server is still healthy and stops cleanly' '
	curl -sf "$RAGD_URL/healthz" >/dev/null && stop_ragd
'
test_done
