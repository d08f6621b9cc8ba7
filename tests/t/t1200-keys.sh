#!/bin/sh
# API keys: with --api-keys, search endpoints need a key with the search
# scope (401 with WWW-Authenticate: Bearer when missing or unknown, 403
# without the scope), /healthz stays open, keys never reach the log, and a
# key file that others can read, or that is malformed, stops startup naming
# the problem.
. "$SRCDIR/tests/t/lib.sh"
DB=$TEST_DIR/k.db
READ=k-read-5ecret-0123456789
ADMIN=k-admin-5ecret-0123456789
UNKNOWN=k-unknown-5ecret-0123456789

# req PATH KEY [JSON]: POST JSON (default a /search body) to PATH with KEY
# as bearer (none when empty); prints the status, headers in hdr.txt, body
# in out.json.
req() {
	set -- "$1" "$2" "${3:-{\"query\":\"volcano\",\"sources\":[\"kb\"]\}}"
	if [ -n "$2" ]; then
		curl -s -D hdr.txt -o out.json -w '%{http_code}' -H "Authorization: Bearer $2" \
			-H 'Content-Type: application/json' --data-binary "$3" "$RAGD_URL$1"
	else
		curl -s -D hdr.txt -o out.json -w '%{http_code}' \
			-H 'Content-Type: application/json' --data-binary "$3" "$RAGD_URL$1"
	fi
}

# serve_refused ARGS...: ragd serve exits 2 at start; its stderr in refused.txt.
serve_refused() {
	"$RAGD" serve --db "$DB" --listen 127.0.0.1:0 "$@" >/dev/null 2>refused.txt
	rc=$?; cat refused.txt; test $rc = 2
}

test_expect_success 'setup: a private key file' '
	ingest_fixture "$DB" &&
	cat >keys.json <<-EOK &&
	{"keys": [{"name": "reader", "key": "$READ", "scopes": ["search"]},
	          {"name": "ops", "key": "$ADMIN", "scopes": ["admin"]}]}
	EOK
	chmod 600 keys.json &&
	start_ragd --db "$DB" --api-keys keys.json --log-level debug
'
test_expect_success 'no key: 401 with WWW-Authenticate: Bearer, on every search endpoint' '
	test "$(req /search "")" = 401 && grep -i "^WWW-Authenticate: Bearer" hdr.txt &&
	test "$(jq -r .error.code out.json)" = unauthorized && validate error out.json &&
	test "$(req /search/batch "" "{\"queries\":[{\"query\":\"a\"}]}")" = 401 &&
	test "$(req /v1/chat/completions "" "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}")" = 401 &&
	test "$(curl -s -o /dev/null -w "%{http_code}" "$RAGD_URL/search?q=volcano")" = 401
'
test_expect_success 'an unknown key: 401' '
	test "$(req /search "$UNKNOWN")" = 401 && grep -i "^WWW-Authenticate: Bearer" hdr.txt &&
	test "$(req /search "$READ-and-more")" = 401
'
test_expect_success 'a key without the search scope: 403' '
	test "$(req /search "$ADMIN")" = 403 && test "$(jq -r .error.code out.json)" = forbidden &&
	! grep -i "^WWW-Authenticate" hdr.txt && validate error out.json
'
test_expect_success 'a key with the search scope: the endpoints answer' '
	test "$(req /search "$READ")" = 200 && validate search-response out.json &&
	test "$(req /search/batch "$READ" "{\"queries\":[{\"query\":\"lava\",\"sources\":[\"kb\"]}]}")" = 200 &&
	validate batch-response out.json &&
	test "$(req /v1/chat/completions "$READ" "{\"messages\":[{\"role\":\"user\",\"content\":\"lava\"}]}")" = 200
'
test_expect_success '/healthz stays open' '
	test "$(curl -s -o /dev/null -w "%{http_code}" "$RAGD_URL/healthz")" = 200
'
test_expect_success 'keys never appear in the log' '
	stop_ragd &&
	grep -c . "$RAGD_LOG" &&
	! grep -F -e "$READ" -e "$ADMIN" -e "$UNKNOWN" -e 5ecret "$RAGD_LOG" "$RAGD_LOG.out"
'
test_expect_success 'api_keys_file in the config file' '
	echo "{\"db\": \"$DB\", \"api_keys_file\": \"$TEST_DIR/keys.json\"}" >cfg.json &&
	validate config cfg.json && start_ragd --config cfg.json &&
	test "$(req /search "")" = 401 && test "$(req /search "$READ")" = 200 && stop_ragd
'
test_expect_success 'a key file readable by other users is refused at start, saying so' '
	chmod 644 keys.json && serve_refused --api-keys keys.json && grep "readable by other users" refused.txt &&
	chmod 640 keys.json && serve_refused --api-keys keys.json && chmod 600 keys.json &&
	! grep -F "$READ" refused.txt
'
WRITE=k-write-5ecret-0123456789
DOC='{"documents": [{"id": "k1", "text": "Keys guard the documents API."}]}'
test_expect_success 'write endpoints need a key with the write scope' '
	cat >wkeys.json <<-EOK &&
	{"keys": [{"name": "reader", "key": "$READ", "scopes": ["search"]},
	          {"name": "writer", "key": "$WRITE", "scopes": ["write"]}]}
	EOK
	chmod 600 wkeys.json && start_ragd --db "$DB" --api-keys wkeys.json &&
	test "$(req /documents "" "$DOC")" = 401 && grep -i "^WWW-Authenticate: Bearer" hdr.txt &&
	test "$(req /documents "$READ" "$DOC")" = 403 &&
	test "$(curl -s -o /dev/null -w "%{http_code}" -H "Authorization: Bearer $READ" "$RAGD_URL/jobs")" = 403 &&
	test "$(req /documents "$WRITE" "$DOC")" = 202 && validate job-accepted out.json &&
	test "$(curl -s -o /dev/null -w "%{http_code}" -H "Authorization: Bearer $WRITE" "$RAGD_URL/jobs")" = 200 &&
	test "$(req /search "$WRITE")" = 403 && stop_ragd
'
test_expect_success 'without keys, write endpoints answer only on a loopback listen address' '
	start_ragd --db "$DB" --listen 0.0.0.0:0 &&
	test "$(req /documents "" "$DOC")" = 403 && grep -q "api-keys" out.json &&
	test "$(req /search "")" = 200 && stop_ragd &&
	start_ragd --db "$DB" &&
	test "$(req /documents "" "$DOC")" = 202 && stop_ragd
'
test_expect_success 'a malformed key file is refused, naming the entry and field' '
	echo "{\"keys\": [{\"name\": \"a\", \"key\": \"$READ\", \"scopes\": [\"search\"]}, {\"name\": \"b\", \"key\": \"x\", \"scopes\": [\"serch\"]}]}" >bad.json &&
	chmod 600 bad.json && serve_refused --api-keys bad.json &&
	grep "keys\[1\]\.scopes\[0\]" refused.txt && ! grep -F "$READ" refused.txt &&
	echo "{\"keys\": [{\"name\": \"a\", \"scopes\": [\"search\"]}]}" >bad.json &&
	serve_refused --api-keys bad.json && grep "keys\[0\]\.key: required" refused.txt &&
	serve_refused --api-keys "$TEST_DIR/missing.json" && grep "missing.json" refused.txt
'
test_done
