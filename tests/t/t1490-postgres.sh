#!/bin/sh
# A store in PostgreSQL: a throwaway cluster in a temporary directory,
# started as a non-root user; ragd migrate copies the fixture store into it
# and back; ragd serves it (vector source); a document written through one
# ragd is found through a second on the same database, told by
# LISTEN/NOTIFY (its vector source never refreshes on a timer); /readyz;
# with the database stopped searches go on from memory, writes get 503,
# and both recover when it returns.
. "$SRCDIR/tests/t/lib.sh"
. "$SRCDIR/tests/t/pglib.sh"

# vecs DB: every chunk's document, position and vector, one line each.
vecs() {
	sqlite3 "$1" "SELECT c.doc_id, c.seq, hex(v.vec) FROM chunks c JOIN vectors v ON v.chunk_id = c.id ORDER BY 1, 2"
}

# cfg FILE: serve the database with a vector source that never refreshes
# on a timer, so only the change feed can tell it of a write.
cfg() {
	printf '{"store": "%s", "sources": [{"name": "vector", "type": "vector", "refresh_ms": 0}]}\n' \
		"$URL" >"$1"
}

# doc ID TEXT: POST one document through ragd A; prints the status.
doc() {
	curl -s -o post.json -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary "{\"documents\": [{\"id\": \"$1\", \"title\": \"$1\", \"text\": \"$2\"}]}" \
		"$A_URL/documents"
}

# found URL QUERY ID: a search through URL returns document ID.
found() {
	curl -s -H 'Content-Type: application/json' --data-binary "{\"query\": \"$2\"}" \
		"$1/search" >found.json &&
	jq -e --arg id "$3" '[.contexts[].id] | index($id) != null' found.json >/dev/null
}

# ready URL STATUS [HTTP]: /readyz answers HTTP (200) with STATUS.
ready() {
	code=$(curl -s -o ready.json -w '%{http_code}' "$1/readyz") &&
	[ "$code" = "${3:-200}" ] && [ "$(jq -r .status ready.json)" = "$2" ]
}

setup() {
	pg_init && ingest_fixture fx.db
}

migrate_both_ways() {
	"$RAGD" migrate --from fx.db --to "$URL" >m1.out &&
	grep -q 'copied 14 documents (16 chunks)' m1.out &&
	"$RAGD" migrate --from "$URL" --to back.db >m2.out &&
	grep -q 'copied 14 documents (16 chunks)' m2.out &&
	vecs fx.db >a.txt && vecs back.db >b.txt && [ -s a.txt ] && cmp a.txt b.txt &&
	! "$RAGD" migrate --from fx.db --to fx.db 2>same.err && grep -q 'the same store' same.err
}

# A store that cannot be opened is named without its password.
no_password_in_errors() {
	! "$RAGD" migrate --from fx.db --to "postgresql://ragd:s3cret-pw@/nosuchdb?host=$PGDIR&port=5432" \
		2>pw.err &&
	grep -q 'nosuchdb' pw.err && grep -q 'ragd:\*\*\*@' pw.err && ! grep -q s3cret pw.err
}

serve_a() {
	cfg cfg.json &&
	start_ragd --config cfg.json && A_URL=$RAGD_URL && A_PID=$RAGD_PID && A_LOG=$RAGD_LOG &&
	wait_for "ready $A_URL ready" && validate readyz ready.json
}

serve_b() {
	start_ragd --config cfg.json && B_URL=$RAGD_URL && B_PID=$RAGD_PID && B_LOG=$RAGD_LOG &&
	wait_for "ready $B_URL ready"
}

search_served() {
	found "$A_URL" volcano d07 && validate search-response found.json &&
	jq -e '.contexts[0].source == "vector"' found.json >/dev/null
}

written_through_a_found_through_b() {
	[ "$(doc pg1 'The quokka is a small marsupial that lives on Rottnest Island.')" = 202 ] &&
	validate job-accepted post.json &&
	wait_for "found $B_URL 'quokka marsupial Rottnest' pg1" 10
}

# job_done ID: job ID of ragd A has finished.
job_done() {
	curl -s "$A_URL/jobs/$1" | jq -e '.status == "done"' >/dev/null
}

# A version written by a job older than the one that wrote the document
# (here: its job number raised past every job's) is skipped.
older_job_loses() {
	"$PGBIN/psql" "$URL" -qAt -c "UPDATE ragd_docs SET job = 1000000 WHERE id = 'pg1'" &&
	[ "$(doc pg1 'An older version about kangaroos.')" = 202 ] &&
	job=$(jq -r .job post.json) && wait_for "job_done $job" &&
	found "$B_URL" 'quokka marsupial Rottnest' pg1 && ! grep -q kangaroos found.json &&
	[ "$(doc pg3 'A newer document about kangaroos.')" = 202 ] &&
	wait_for "found $B_URL 'kangaroos' pg3" 10
}

# A job queued by another process (here: by hand) waits until a change
# is told; then any replica runs it.
queued_elsewhere() {
	"$PGBIN/psql" "$URL" -qAt -c "WITH j AS (INSERT INTO ragd_jobs(status, into_, total, created_at)
		VALUES ('queued', '[\"vector\"]', 1, 1) RETURNING id)
		INSERT INTO ragd_job_docs(job_id, idx, doc) SELECT id, 0,
		'{\"id\": \"pg4\", \"title\": \"pg4\", \"text\": \"Platypus lay eggs.\"}' FROM j" &&
	! found "$B_URL" 'platypus eggs' pg4 &&
	"$PGBIN/psql" "$URL" -qAt -c "NOTIFY ragd_changes" &&
	wait_for "found $B_URL 'platypus eggs' pg4" 10
}

# written URL: the documents ragd at URL's jobs have written.
written() {
	curl -s "$1/metrics" >m.txt && "$PY" "$SRCDIR/tests/t/prom.py" m.txt value ragd_documents_written_total
}

# A job of many steps, seen by both ragd (A in process, B through the
# feed), is run by one of them from start to end: it holds the job's lease.
one_runner_per_job() {
	a0=$(written "$A_URL") && b0=$(written "$B_URL") &&
	"$PY" -c 'import json; print(json.dumps({"documents": [{"id": "lease%d" % i,
		"text": "Lease document %d about echidnas." % i} for i in range(400)]}))' >many.json &&
	curl -s -o post.json -H 'Content-Type: application/json' --data-binary @many.json \
		"$A_URL/documents" && job=$(jq -r .job post.json) && wait_for "job_done $job" 60 &&
	a=$(( $(written "$A_URL" | cut -d. -f1) - ${a0%.*} )) &&
	b=$(( $(written "$B_URL" | cut -d. -f1) - ${b0%.*} )) &&
	echo "A wrote $a, B wrote $b" &&
	{ { [ "$a" = 400 ] && [ "$b" = 0 ]; } || { [ "$a" = 0 ] && [ "$b" = 400 ]; }; }
}

database_down() {
	pg_stop &&
	wait_for "ready $B_URL degraded" && validate readyz ready.json &&
	found "$B_URL" 'quokka marsupial Rottnest' pg1 && found "$A_URL" volcano d07 &&
	[ "$(doc pg2 'The wombat digs long burrows.')" = 503 ] && validate error post.json &&
	jq -e '.error.code == "unavailable"' post.json >/dev/null
}

database_back() {
	pg_start &&
	wait_for "ready $A_URL ready" && wait_for "ready $B_URL ready" &&
	[ "$(doc pg2 'The wombat digs long burrows.')" = 202 ] &&
	wait_for "found $B_URL 'wombat burrows' pg2" 10
}

# loads_a: ragd A's whole-index loads of its vector source.
loads_a() {
	curl -s "$A_URL/metrics" >m.txt &&
	"$PY" "$SRCDIR/tests/t/prom.py" m.txt value ragd_source_index_loads_total source=vector
}

# changes: the entries ragd_changes holds.
changes() {
	"$PGBIN/psql" "$URL" -qAt -c "SELECT count(*) FROM ragd_changes"
}

# write_trimmed: ten documents through ragd C, whose writes keep 2 change
# log entries; returns once the job is done and the log trimmed.
write_trimmed() {
	job=$(curl -s -H 'Content-Type: application/json' --data-binary \
		"{\"documents\": [$(seq -s, 0 9 | sed 's/\([0-9]\)/{"id": "t\1", "text": "tapir number \1 in the forest"}/g')]}" \
		"$C_URL/documents" | jq -r .job) &&
	wait_for "curl -s $C_URL/jobs/$job | jq -e '.status == \"done\"'" &&
	wait_for "[ \"\$(changes)\" = 2 ]"
}

# ragd C writes while ragd A is stopped (SIGSTOP), so A cannot have read
# the changes before the trim: when it resumes, the log no longer reaches
# back to it, and it reloads once.
log_trimmed() {
	printf '{"store": "%s", "change_log_keep": 2, "sources": []}\n' "$URL" >c.json &&
	validate config c.json &&
	[ "$(loads_a)" = 1 ] &&
	start_ragd --config c.json && C_URL=$RAGD_URL &&
	kill -STOP "$A_PID" && { write_trimmed; rc=$?; kill -CONT "$A_PID"; [ $rc = 0 ]; } &&
	wait_for "found $A_URL 'tapir number 7 in the forest' t7" 10 &&
	[ "$(loads_a)" = 2 ] &&
	grep -q "further behind than the change log keeps" "$A_LOG" &&
	wait_for "found $B_URL 'tapir number 7 in the forest' t7" 10 &&
	stop_ragd
}

stop_both() {
	RAGD_PID=$A_PID RAGD_LOG=$A_LOG && stop_ragd &&
	RAGD_PID=$B_PID RAGD_LOG=$B_LOG && stop_ragd
}

test_expect_success 'setup: a PostgreSQL cluster of its own, as a non-root user' 'setup'
test_expect_success 'ragd migrate copies the fixture store into PostgreSQL and back' 'migrate_both_ways'
test_expect_success 'errors name the database, never its password' 'no_password_in_errors'
test_expect_success 'ragd A serves the database: /readyz is ready' 'serve_a'
test_expect_success 'ragd B on the same database' 'serve_b'
test_expect_success 'the vector source searches the PostgreSQL store' 'search_served'
test_expect_success 'a document written through one ragd is found through the other (LISTEN/NOTIFY)' \
	'written_through_a_found_through_b'
test_expect_success 'a put from a job older than the document'"'"'s is skipped' 'older_job_loses'
test_expect_success 'a job queued by another process runs once a change is told' 'queued_elsewhere'
test_expect_success 'one replica runs a job from start to end (its lease)' 'one_runner_per_job'
test_expect_success 'database down: degraded, searches from memory, writes get 503' 'database_down'
test_expect_success 'database back: ready again, writes go through and propagate' 'database_back'
test_expect_success 'the change log keeps its newest entries; a ragd behind them reloads once' \
	'log_trimmed'
test_expect_success 'both stop cleanly' 'stop_both'
test_done
