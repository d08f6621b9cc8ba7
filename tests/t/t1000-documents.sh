#!/bin/sh
# Documents over HTTP: POST /documents queues a durable job that runs in the
# background, GET/DELETE /jobs, GET/DELETE /documents/<id>, per-route body
# limits, a job resumed after kill -9, and `ragd delete`.
. "$SRCDIR/tests/t/lib.sh"
DB=$TEST_DIR/d.db

# req METHOD PATH [CURL-ARGS...]: prints the HTTP status; body in out.json,
# headers in hdr.txt.
req() {
	m=$1; p=$2; shift 2
	curl -s -o out.json -D hdr.txt -w '%{http_code}' -X "$m" "$@" "$RAGD_URL$p"
}
post_docs() {
	req POST /documents -H "Content-Type: ${2:-application/json}" --data-binary "$1"
}
job_status() {
	curl -s "$RAGD_URL/jobs/$1" | jq -r .status
}
# docs N [PREFIX]: an ndjson payload of N documents.
docs() {
	"$PY" -c 'import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"_id": "%s%d" % (sys.argv[2], i), "title": "Doc %d" % i,
                      "text": "volcanic ash and granite number %d " % i * 20}))' "$1" "${2:-d}"
}
# search_ids QUERY SOURCE: the ids source SOURCE alone returns for QUERY,
# best first, one a line.
search_ids() {
	post_search "{\"query\": \"$1\", \"k\": 10, \"generate\": false, \"sources\": [\"$2\"]}" s.json >/dev/null &&
	jq -r '.contexts[].id' s.json
}

test_expect_success 'setup: an empty store, ragd whose vector source never refreshes on a timer' '
	"$RAGD" ingest --db "$DB" --migrate >/dev/null &&
	cat >c.json <<-EOC &&
	{"db": "$DB", "sources": [
	  {"name": "vector", "type": "vector", "db": "$DB", "refresh_ms": 0},
	  {"name": "kb", "type": "kb", "db": "$DB"}]}
	EOC
	validate config c.json && start_ragd --config c.json
'
test_expect_success 'POST /documents answers 202 with the job and its Location' '
	cat >two.json <<-EOF &&
	{"documents": [
	  {"id": "dir/a% b", "title": "Cats", "text": "a purring feline sleeps", "url": "http://x/a",
	   "metadata": {"year": 2015, "tags": ["x"]}},
	  {"id": 7, "text": "granite mountains"}], "into": ["kb", "vector"]}
	EOF
	validate documents-request two.json &&
	test "$(post_docs @two.json)" = 202 && validate job-accepted out.json &&
	job=$(jq -r .job out.json) && test "$(jq -r .documents out.json)" = 2 &&
	tr -d "\r" <hdr.txt | grep -qx "Location: /jobs/$job"
'
test_expect_success 'the job finishes, and its documents are found in kb and vector at once' '
	wait_for "test \"\$(job_status $job)\" = done" &&
	test "$(req GET /jobs/$job)" = 200 && validate job out.json &&
	jq -e ".documents == {\"total\": 2, \"done\": 2, \"failed\": 0} and .chunks == 2 and
	       .started_at >= .created_at and .finished_at >= .started_at" out.json >/dev/null &&
	test "$(search_ids "purring feline" kb | head -n1)" = "dir/a% b" &&
	test "$(search_ids "purring feline" vector | head -n1)" = "dir/a% b"
'
# filtered SOURCE FILTER: the ids SOURCE alone returns for "purring feline"
# under FILTER, one a line.
filtered() {
	post_search "{\"query\": \"purring feline\", \"sources\": [\"$1\"], \"generate\": false,
	              \"filter\": $2}" f.json >/dev/null && jq -r ".contexts[].id" f.json
}
test_expect_success 'a filter on the uploaded metadata applies in kb and vector at once' '
	test "$(filtered kb "{\"year\": {\"\$gte\": 2010}}" | head -n1)" = "dir/a% b" &&
	test "$(filtered vector "{\"year\": {\"\$gte\": 2010}}" | head -n1)" = "dir/a% b" &&
	test -z "$(filtered kb "{\"tags\": {\"\$in\": [\"y\"]}}")" &&
	test -z "$(filtered vector "{\"tags\": {\"\$in\": [\"y\"]}}")"
'
test_expect_success 'GET /documents/<id> takes the id percent-encoded' '
	test "$(req GET "/documents/dir%2Fa%25%20b")" = 200 && validate document out.json &&
	jq -e ".id == \"dir/a% b\" and .title == \"Cats\" and .url == \"http://x/a\" and
	       .metadata.year == 2015 and .chunks == 1" out.json >/dev/null &&
	test "$(req GET /documents/7)" = 200 && jq -e ".url == null and .metadata == null" out.json &&
	test "$(req GET /documents/nope)" = 404 && validate error out.json
'
test_expect_success 'ndjson takes _id; re-sending an id replaces the document' '
	printf "%s\n" "{\"_id\": \"7\", \"text\": \"basalt plains\"}" "" "{\"_id\": \"n1\", \"text\": \"moss\"}" >n.ndjson &&
	test "$(post_docs @n.ndjson application/x-ndjson)" = 202 && job=$(jq -r .job out.json) &&
	test "$(jq -r .documents out.json)" = 2 &&
	wait_for "test \"\$(job_status $job)\" = done" &&
	search_ids "basalt" kb | grep -qx 7 && ! search_ids "granite" kb | grep -qx 7
'
test_expect_success 'bad bodies get 400 naming the document and field, and queue nothing' '
	n=$(curl -s "$RAGD_URL/jobs" | jq ".jobs | length") &&
	test "$(post_docs "{\"documents\": [{\"id\": \"a\", \"text\": \"x\"}, {\"id\": \"b\", \"text\": \"  \"}]}")" = 400 &&
	validate error out.json && jq -r .error.message out.json | grep -q "documents\[1\]\.text" &&
	test "$(post_docs "{\"documents\": [{\"text\": \"x\"}]}")" = 400 &&
	jq -r .error.message out.json | grep -q "documents\[0\]\.id" &&
	test "$(post_docs "{\"documents\": [{\"id\": \"a\", \"text\": \"x\", \"metadata\": 3}]}")" = 400 &&
	jq -r .error.message out.json | grep -q "documents\[0\]\.metadata" &&
	test "$(post_docs "{\"documents\": [{\"id\": \"a\", \"text\": \"x\"}], \"into\": [\"web\"]}")" = 400 &&
	jq -r .error.message out.json | grep -q "into\[0\]" &&
	test "$(post_docs "{\"documents\": [")" = 400 && jq -e ".error.code == \"invalid_json\"" out.json &&
	printf "{\"_id\": \"a\", \"text\": \"x\"}\n{\"_id\": \"b\"}\n" >bad.ndjson &&
	test "$(post_docs @bad.ndjson application/x-ndjson)" = 400 &&
	jq -r .error.message out.json | grep -q "documents\[1\]\.text" &&
	test "$(curl -s "$RAGD_URL/jobs" | jq ".jobs | length")" = "$n"
'
test_expect_success 'GET /jobs lists the jobs newest first' '
	test "$(req GET /jobs)" = 200 && validate jobs out.json &&
	jq -e "[.jobs[].job | tonumber] | . == (sort | reverse) and length == 2" out.json >/dev/null &&
	test "$(req POST /jobs)" = 405 && test "$(req GET /jobs/999)" = 404 && test "$(req GET /jobs/x)" = 404
'
test_expect_success 'DELETE /documents/<id>: then no source returns it' '
	test "$(req DELETE "/documents/dir%2Fa%25%20b")" = 200 && validate document out.json &&
	jq -e ".id == \"dir/a% b\" and .deleted == true" out.json >/dev/null &&
	! search_ids "purring feline" kb | grep -q . && search_ids "purring feline" vector | grep -q . && ! search_ids "purring feline" vector | grep -qx "dir/a% b" &&
	test "$(req DELETE "/documents/dir%2Fa%25%20b")" = 404 && validate error out.json
'
test_expect_success 'a huge body to /search is refused on its Content-Length, /documents takes 20 MiB' '
	"$PY" -c "
import socket, sys
host, port = sys.argv[1].split(\":\")
s = socket.create_connection((host, int(port)))
s.sendall(b\"POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 62914560\r\n\r\n{\")
s.settimeout(20)
head = s.recv(4096).decode(\"latin-1\")
sys.exit(0 if head.startswith(\"HTTP/1.1 413\") else 1)
" "${RAGD_URL#http://}" &&
	rss=$(sed -n "s/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p" /proc/$RAGD_PID/status) &&
	docs 24000 big >big.ndjson && test "$(wc -c <big.ndjson)" -gt 16777216 &&
	test "$(post_docs @big.ndjson application/x-ndjson)" = 202 && big=$(jq -r .job out.json) &&
	say "peak RSS before the 20 MiB POST: $rss kB"
'
test_expect_success 'DELETE /jobs/<id> cancels a running job; what it committed stays' '
	wait_for "test \"\$(job_status $big)\" = running" &&
	test "$(req DELETE /jobs/$big)" = 200 && validate job out.json &&
	jq -e ".status == \"cancelled\" and .finished_at != null" out.json >/dev/null &&
	done=$(jq .documents.done out.json) && test "$done" -lt 24000 &&
	test "$(req GET /jobs/$big)" = 200 && jq -e ".status == \"cancelled\" and .documents.done == $done" out.json &&
	if [ "$done" -gt 0 ]; then test "$(req GET /documents/big$((done - 1)))" = 200; fi &&
	test "$(req GET /documents/big$done)" = 404
'
test_expect_success 'a job killed mid-run resumes after restart from its first uncommitted document' '
	docs 6000 k >k.ndjson &&
	test "$(post_docs @k.ndjson application/x-ndjson)" = 202 && job=$(jq -r .job out.json) &&
	wait_for "curl -s $RAGD_URL/jobs/$job | jq -e \".documents.done > 0\"" &&
	kill -KILL "$RAGD_PID" && wait "$RAGD_PID"; 
	before=$("$PY" -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT done FROM jobs WHERE id=?\", (sys.argv[2],)).fetchone()[0])" "$DB" "$job") &&
	say "killed with $before of 6000 committed" && test "$before" -lt 6000 &&
	start_ragd --config c.json &&
	wait_for "test \"\$(job_status $job)\" = done" 120 &&
	test "$(req GET /jobs/$job)" = 200 && jq -e ".documents == {\"total\": 6000, \"done\": 6000, \"failed\": 0}" out.json &&
	test "$(req GET /documents/k5999)" = 200 && test "$(req GET /documents/k0)" = 200 &&
	test "$("$PY" -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT count(*) FROM docs WHERE id LIKE \x27k%\x27\").fetchone()[0])" "$DB")" = 6000
'
test_expect_success 'ragd stops cleanly' '
	stop_ragd
'
test_expect_success 'ragd delete deletes from the command line' '
	{ "$RAGD" delete k1 2>err.txt; test $? -eq 2; } && grep -q -- --db err.txt &&
	{ "$RAGD" delete --db "$DB" 2>err.txt; test $? -eq 2; } && grep -q "id" err.txt &&
	"$RAGD" delete --db "$DB" k1 k2 >out.txt && grep -qx "deleted k2" out.txt &&
	{ "$RAGD" delete --db "$DB" k1 >out.txt; test $? -eq 1; } && grep -qx "not found: k1" out.txt &&
	"$RAGD" --help | grep -q "delete"
'
test_done
