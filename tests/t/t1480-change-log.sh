#!/bin/sh
# The change log's retention (change_log_keep): a writer keeps only the
# newest entries, and a ragd whose sources were further behind than that
# when they next look reloads each whole index once, finds everything, and
# goes on applying the log from there.  Its sources refresh only when told
# (refresh_ms 0): by its own writes, and by its store watch, which notices
# another process's writes within a second.  So that they cannot look while
# a second ragd on the same file writes (and fall behind, and reload, more
# than once), ragd A is stopped (SIGSTOP) until that ragd is done.
. "$SRCDIR/tests/t/lib.sh"
DB=$TEST_DIR/fx.db

# post URL JSON: POST /documents through URL; prints the job's id.
post() {
	curl -s -H 'Content-Type: application/json' --data-binary "$2" "$1/documents" | jq -r .job
}
# done_job URL JOB: the job has finished writing.
done_job() {
	test "$(curl -s "$1/jobs/$2" | jq -r .status)" = done
}
# loads SOURCE: ragd A's whole-index loads of SOURCE.
loads() {
	curl -s "$A_URL/metrics" >m.txt &&
	"$PY" "$SRCDIR/tests/t/prom.py" m.txt value ragd_source_index_loads_total "source=$1"
}
# ids SOURCE QUERY: the ids SOURCE alone returns for QUERY, one a line.
ids() {
	curl -s -o s.json -H 'Content-Type: application/json' "$A_URL/search" \
		--data-binary "{\"query\": \"$2\", \"k\": 5, \"generate\": false, \"sources\": [\"$1\"]}" &&
	jq -r '.contexts[].id' s.json
}
# finds ID TEXT: both of A's sources find document ID by its text.
finds() {
	ids kb "$2" | grep -qx "$1" && ids vector "$2" | grep -qx "$1"
}
# text N: document zN's text, unlike the fixture's.
text() {
	echo "zirconium crystal lattice $1 under pressure"
}
# many N: a POST /documents body of N documents z0..z(N-1).
many() {
	"$PY" -c 'import json, sys
n = int(sys.argv[1])
print(json.dumps({"documents": [{"id": "z%d" % i, "title": "z%d" % i,
                                 "text": "zirconium crystal lattice %d under pressure" % i}
                                for i in range(n)]}))' "$1"
}
# changes: the entries the store's change log holds.
changes() {
	"$PY" -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM changes').fetchone()[0])" "$DB"
}

test_expect_success 'setup: ragd A, whose vector and kb indexes refresh only when told' '
	ingest_fixture "$DB" &&
	cat >a.json <<-EOC &&
	{"db": "$DB", "sources": [
	  {"name": "vector", "type": "vector", "db": "$DB", "refresh_ms": 0},
	  {"name": "kb", "type": "kb", "db": "$DB", "refresh_ms": 0}]}
	EOC
	validate config a.json && start_ragd --config a.json &&
	A_URL=$RAGD_URL && A_PID=$RAGD_PID && A_LOG=$RAGD_LOG &&
	test "$(loads vector)" = 1 && test "$(loads kb)" = 1
'
# b_writes: with A stopped, ragd B writes 40 documents keeping 2 log
# entries and stops; A goes on.
b_writes() {
	cat >b.json <<-EOC &&
	{"db": "$DB", "change_log_keep": 2, "log_level": "warn",
	 "sources": [{"name": "vector", "type": "vector", "db": "$DB", "refresh_ms": 0}]}
	EOC
	validate config b.json && kill -STOP "$A_PID" && start_ragd --config b.json &&
	job=$(post "$RAGD_URL" "$(many 40)") &&
	wait_for "done_job $RAGD_URL $job" && stop_ragd; rc=$?
	kill -CONT "$A_PID" && return $rc
}
test_expect_success 'ragd B writes 40 documents keeping 2 log entries while A is stopped' '
	b_writes && test "$(changes)" = 2
'
test_expect_success 'a write through A: each index reloads once and finds them all' '
	job=$(post "$A_URL" "{\"documents\": [{\"id\": \"a1\", \"text\": \"basalt columns at sea\"}]}") &&
	wait_for "done_job $A_URL $job" &&
	wait_for "test \"\$(loads vector)\" = 2 && test \"\$(loads kb)\" = 2" &&
	finds z0 "$(text 0)" && finds z39 "$(text 39)" && finds a1 "basalt columns at sea" &&
	test "$(grep -c "further behind than the change log keeps" "$A_LOG")" = 2
'
test_expect_success 'and goes on applying the log from there, without another reload' '
	job=$(post "$A_URL" "{\"documents\": [{\"id\": \"a2\", \"text\": \"obsidian glass shards\"}]}") &&
	wait_for "done_job $A_URL $job" &&
	wait_for "finds a2 \"obsidian glass shards\"" &&
	test "$(loads vector)" = 2 && test "$(loads kb)" = 2
'
test_expect_success 'A stops cleanly' '
	RAGD_PID=$A_PID && RAGD_LOG=$A_LOG && stop_ragd
'
test_done
