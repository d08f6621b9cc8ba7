#!/bin/sh
# The playground's server side: / serves the page and /app.js, /app.css its
# files, from the binary, with a Content-Security-Policy that forbids inline
# script and eval and an ETag; they load without a key when keys exist.
# GET /sources lists the instances with their breaker state, and GET
# /session says what the presented key may do.
. "$SRCDIR/tests/t/lib.sh"
DB=$TEST_DIR/p.db
READ=p-read-5ecret-0123456789
WRITE=p-write-5ecret-0123456789

# get PATH [KEY]: GET PATH (with KEY as bearer); prints the status, headers
# in hdr.txt, body in body.txt.
get() {
	if [ -n "${2:-}" ]; then
		curl -s -D hdr.txt -o body.txt -w '%{http_code}' -H "Authorization: Bearer $2" "$RAGD_URL$1"
	else
		curl -s -D hdr.txt -o body.txt -w '%{http_code}' "$RAGD_URL$1"
	fi
}

# header NAME: the value of a reply header in hdr.txt.
header() { sed -n "s/^$1: //ip" hdr.txt | tr -d '\r'; }

# page_file PATH TYPE: PATH is served with TYPE and the page's headers.
page_file() {
	test "$(get "$1")" = 200 && header Content-Type | grep -q "^$2" &&
	test "$(header X-Content-Type-Options)" = nosniff &&
	header ETag | grep -Eq '^"[0-9a-f]{16}"$' && test -s body.txt
}

# csp_strict: the policy allows only this origin's script, no inline
# script and no eval, and no other origin to connect to or frame the page.
csp_strict() {
	csp=$(header Content-Security-Policy) && echo "$csp" &&
	echo "$csp" | grep -q "script-src 'self';" && echo "$csp" | grep -q "connect-src 'self'" &&
	echo "$csp" | grep -q "frame-ancestors 'none'" && echo "$csp" | grep -q "default-src 'none'" &&
	! echo "$csp" | grep -Eq "unsafe-inline|unsafe-eval|\*|https?:"
}

# html_self_contained: the page loads nothing from elsewhere and has no
# inline script or handler (which the policy would block anyway).
html_self_contained() {
	test "$(get /)" = 200 &&
	grep -q '<script src="/app.js"' body.txt && grep -q 'href="/app.css"' body.txt &&
	! grep -Eiq '(src|href)="(https?:)?//' body.txt &&
	! grep -Eiq '<script>|<script [^>]*>[^<]|[[:space:]]on[a-z]+=|style=' body.txt
}

# etag_revalidates PATH: a request naming the current ETag gets a bodiless 304.
etag_revalidates() {
	get "$1" >/dev/null && tag=$(header ETag) && rm -f body.txt &&
	test "$(curl -s -o body.txt -w '%{http_code}' -H "If-None-Match: $tag" "$RAGD_URL$1")" = 304 &&
	! test -s body.txt &&
	test "$(curl -s -o /dev/null -w '%{http_code}' -H 'If-None-Match: "0"' "$RAGD_URL$1")" = 200
}

# session_is KEY JQ: GET /session with KEY answers 200, valid, satisfying JQ.
session_is() {
	test "$(get /session "$1")" = 200 && validate session body.txt && jq -e "$2" body.txt
}

test_expect_success 'setup' '
	ingest_fixture "$DB" && start_fakeup UP &&
	cat >cfg.json <<-JSON &&
	{"db": "$DB", "sources": [{"name": "kb", "type": "kb"},
	  {"name": "web", "type": "web", "url": "$UP_URL", "breaker_failures": 1,
	   "breaker_open_ms": 60000}]}
	JSON
	start_ragd --config cfg.json
'
test_expect_success 'GET / is the page, with a strict policy' '
	page_file / "text/html; charset=utf-8" && csp_strict && html_self_contained &&
	test "$(get "/?q=volcano&k=3")" = 200 && grep -q "<html" body.txt
'
test_expect_success '/app.js and /app.css are served with their types' '
	page_file /app.js "text/javascript" && csp_strict && page_file /app.css "text/css"
'
test_expect_success 'an ETag revalidates to 304' '
	etag_revalidates / && etag_revalidates /app.js
'
test_expect_success 'HEAD answers without a body; POST gets the JSON 405' '
	test "$(curl -s -I -o /dev/null -w "%{http_code}" "$RAGD_URL/app.css")" = 200 &&
	test "$(curl -s -o body.txt -w "%{http_code}" -d x "$RAGD_URL/")" = 405 &&
	validate error body.txt && test "$(curl -s -o /dev/null -w "%{http_code}" "$RAGD_URL/app.jsx")" = 404
'
test_expect_success 'GET /sources: instances in order, with their type and breaker' '
	test "$(get /sources)" = 200 && validate sources body.txt &&
	jq -e "[.sources[] | .name] == [\"kb\", \"web\"] and .sources[1].type == \"web\" and
	       .sources[1].breaker == \"closed\" and .sources[0].enabled" body.txt
'
test_expect_success 'GET /sources shows a failing source whose breaker opened' '
	fake_control "$UP_URL" "{\"mode\":\"fail\"}" &&
	post_search "{\"query\":\"volcano\"}" >/dev/null && jq -e ".sources.web.status == \"error\"" out.json &&
	test "$(get /sources)" = 200 && validate sources body.txt &&
	jq -e ".sources[1].breaker == \"open\"" body.txt
'
test_expect_success 'GET /session without keys on loopback: every scope' '
	session_is "" ".keys_required == false and .scopes == [\"search\", \"write\", \"admin\"]"
'
test_expect_success 'with keys: the page loads without one' '
	stop_ragd &&
	cat >keys.json <<-EOK &&
	{"keys": [{"name": "reader", "key": "$READ", "scopes": ["search"]},
	          {"name": "writer", "key": "$WRITE", "scopes": ["search", "write"]}]}
	EOK
	chmod 600 keys.json && start_ragd --config cfg.json --api-keys keys.json &&
	page_file / "text/html" && page_file /app.js "text/javascript" && page_file /app.css "text/css"
'
test_expect_success 'with keys: /session says a key is needed, and what each key may do' '
	session_is "" ".keys_required and .scopes == []" &&
	session_is "$READ" ".keys_required and (.scopes | index(\"search\")) and (.scopes | index(\"write\") | not)" &&
	session_is "$WRITE" "(.scopes | index(\"write\")) != null"
'
test_expect_success 'with keys: an unknown key is refused by /session, no key by /sources' '
	test "$(get /session wrong-key)" = 401 && validate error body.txt &&
	header WWW-Authenticate | grep -q Bearer &&
	test "$(get /sources)" = 401 && test "$(get /sources "$READ")" = 200 && validate sources body.txt
'
test_expect_success 'ragd stops cleanly' '
	stop_ragd
'
test_done
