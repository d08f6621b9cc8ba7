#!/bin/sh
# ragd ingest: corpus.jsonl and Markdown input, chunking, replacement of
# re-ingested ids, malformed lines, bad arguments, and interrupted runs.
. "$SRCDIR/tests/t/lib.sh"
DB=$TEST_DIR/i.db
q() { sqlite3 "$DB" "$1"; }

test_expect_success 'ingest a corpus.jsonl and print the summary' '
	"$RAGD" ingest --db "$DB" "$SRCDIR/tests/data/corpus.jsonl" >sum.txt &&
	grep -Eq "^ingested 14 documents, [0-9]+ chunks, 0 skipped in [0-9.]+ s$" sum.txt
'
test_expect_success 'documents, chunks, vectors and kb rows agree' '
	test "$(q "SELECT count(*) FROM docs")" = 14 &&
	chunks=$(q "SELECT count(*) FROM chunks") &&
	test "$chunks" -gt 14 &&
	test "$(q "SELECT count(*) FROM vectors")" = "$chunks" &&
	test "$(q "SELECT count(*) FROM kb_fts")" = "$chunks"
'
test_expect_success 'a long document is split into chunks that keep its id' '
	test "$(q "SELECT count(*) FROM chunks WHERE doc_id = '\''long01'\''")" -gt 1 &&
	test "$(q "SELECT max(length(text)) FROM chunks")" -le 2400
'
test_expect_success 'numeric ids, urls and metadata are kept' '
	test "$(q "SELECT count(*) FROM docs WHERE id = '\''42'\''")" = 1 &&
	test "$(q "SELECT url FROM docs WHERE id = '\''d01'\''")" = "https://docs.example.org/d01" &&
	q "SELECT metadata FROM docs WHERE id = '\''d01'\''" | grep -q topic
'
test_expect_success 'the store records its embedder' '
	test "$(q "SELECT value FROM meta WHERE key = '\''embedder'\''")" = hash
'
test_expect_success 're-ingesting replaces documents instead of duplicating them' '
	before=$(q "SELECT count(*) FROM chunks") &&
	"$RAGD" ingest --db "$DB" "$SRCDIR/tests/data/corpus.jsonl" >/dev/null &&
	test "$(q "SELECT count(*) FROM docs")" = 14 &&
	test "$(q "SELECT count(*) FROM chunks")" = "$before" &&
	test "$(q "SELECT count(*) FROM kb_fts")" = "$before"
'
test_expect_success 'a changed document replaces the old text' '
	printf "%s\n" "{\"_id\":\"d06\",\"title\":\"Photosynthesis\",\"text\":\"Rewritten: stomata exchange gases.\"}" >upd.jsonl &&
	"$RAGD" ingest --db "$DB" upd.jsonl >/dev/null &&
	test "$(q "SELECT count(*) FROM kb_fts WHERE kb_fts MATCH '\''chlorophyll'\''")" = 0 &&
	test "$(q "SELECT count(*) FROM kb_fts WHERE kb_fts MATCH '\''stomata'\''")" = 1
'
test_expect_success 'malformed lines are reported with their line number and skipped' '
	printf "%s\n" "{\"_id\":\"m1\",\"text\":\"fine\"}" "{not json" "{\"_id\":\"m2\"}" "" "{\"_id\":\"m3\",\"text\":\"also fine\"}" >bad.jsonl &&
	"$RAGD" ingest --db "$DB" bad.jsonl >sum.txt 2>err.txt &&
	grep -q "bad.jsonl:2" err.txt && grep -q "bad.jsonl:3" err.txt &&
	grep -q "ingested 2 documents" sum.txt && grep -q "2 skipped" sum.txt
'
test_expect_success 'documents without text are reported with the reason and skipped' '
	printf "%s\n" "{\"_id\":\"e1\",\"title\":\"Empty\",\"text\":\"\"}" "{\"_id\":\"e2\",\"text\":\" \\t\\n \"}" "{\"_id\":\"e3\",\"text\":\"has words\"}" >empty.jsonl &&
	mkdir -p blank && : >blank/none.md && printf "  \n\n" >blank/ws.txt &&
	"$RAGD" ingest --db "$DB" empty.jsonl blank >sum.txt 2>err.txt &&
	grep -q "ingested 1 documents, [0-9]* chunks, 4 skipped" sum.txt &&
	grep -qF "empty.jsonl:1: \"text\" is empty" err.txt &&
	grep -qF "empty.jsonl:2: \"text\" is only whitespace" err.txt &&
	grep -qF "blank/none.md: empty" err.txt && grep -qF "blank/ws.txt: only whitespace" err.txt &&
	test "$(q "SELECT count(*) FROM docs WHERE id IN ('\''e1'\'', '\''e2'\'', '\''e3'\'')")" = 1 &&
	test "$(q "SELECT count(*) FROM docs WHERE id LIKE '\''%blank/%'\''")" = 0
'
test_expect_success 'Markdown files and directories are ingested, one document each' '
	mkdir -p md/sub && printf "# Alpha title\n\nalpha body text\n" >md/a.md &&
	printf "plain beta text\n" >md/sub/b.txt &&
	"$RAGD" ingest --db "$DB" --into kb md >sum.txt &&
	grep -q "ingested 2 documents" sum.txt &&
	test "$(q "SELECT title FROM docs WHERE id LIKE '\''%a.md'\''")" = "Alpha title"
'
test_expect_success '--into kb writes no vectors for those documents' '
	test "$(q "SELECT count(*) FROM vectors v JOIN chunks c ON c.id = v.chunk_id WHERE c.doc_id LIKE '\''%b.txt'\''")" = 0
'
test_expect_success 'bad arguments exit 2 with a message naming the problem' '
	{ "$RAGD" ingest "$SRCDIR/tests/data/corpus.jsonl" 2>e1; test $? -eq 2; } && grep -q -- "--db" e1 &&
	{ "$RAGD" ingest --db "$DB" 2>e2; test $? -eq 2; } &&
	{ "$RAGD" ingest --db "$DB" nope.jsonl 2>e3; test $? -eq 2; } && grep -q nope.jsonl e3 &&
	{ "$RAGD" ingest --db "$DB" --into vector,graph md 2>e4; test $? -eq 2; } && grep -q graph e4 &&
	{ "$RAGD" ingest --db "$DB" --embedder magic md 2>e5; test $? -eq 2; } && grep -q magic e5 &&
	{ "$RAGD" ingest --db "$DB" --embedder openai md 2>e6; test $? -eq 2; } && grep -q -- "--embed-url" e6
'
# bg_ingest ARGS...: ragd ingest in the background; its pid in $ingest_pid.
bg_ingest() {
	"$RAGD" ingest "$@" >/dev/null 2>&1 &
	ingest_pid=$!
}
# committed: documents committed to k.db so far.
committed() {
	sqlite3 "$TEST_DIR/k.db" "SELECT count(*) FROM docs" 2>/dev/null || echo 0
}
test_expect_success 'an interrupted ingest leaves a consistent database' '
	awk "BEGIN { for (i = 0; i < 60000; i++) printf \"{\\\"_id\\\":\\\"g%d\\\",\\\"title\\\":\\\"gen %d\\\",\\\"text\\\":\\\"generated document number %d about topic %d\\\"}\\n\", i, i, i, i % 97 }" >big.jsonl &&
	bg_ingest --db "$TEST_DIR/k.db" --batch 500 big.jsonl &&
	wait_for "test \$(committed) -gt 0" && kill -KILL $ingest_pid && ! wait $ingest_pid &&
	test "$(committed)" -lt 60000 &&
	test "$(sqlite3 "$TEST_DIR/k.db" "PRAGMA integrity_check")" = ok &&
	docs=$(sqlite3 "$TEST_DIR/k.db" "SELECT count(*) FROM docs") &&
	say "$docs documents committed before the kill" &&
	test $((docs % 500)) -eq 0 &&
	test "$(sqlite3 "$TEST_DIR/k.db" "SELECT count(*) FROM chunks")" = "$(sqlite3 "$TEST_DIR/k.db" "SELECT count(*) FROM kb_fts")"
'
test_done
