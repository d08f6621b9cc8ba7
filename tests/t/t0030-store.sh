#!/bin/sh
# The store across versions and while ragd serves: a store written before
# the change log (schema version 1) is upgraded in place by the reader or
# writer that opens it, and the vector source applies the change log, so a
# re-ingested document's old vectors stop matching.
. "$SRCDIR/tests/t/lib.sh"

# make_v1 DB: a version 1 store (the schema of that version, verbatim) with
# the rows of the test corpus as today's ingest makes them.
make_v1() {
	"$PY" - "$1" "$TEST_DIR/cur.db" <<-'EOP'
	import sqlite3, sys
	db = sqlite3.connect(sys.argv[1])
	db.executescript("""
	CREATE TABLE IF NOT EXISTS meta(  key TEXT PRIMARY KEY, value TEXT NOT NULL);
	CREATE TABLE IF NOT EXISTS docs(  id TEXT PRIMARY KEY, title TEXT NOT NULL DEFAULT '', url TEXT,  metadata TEXT);
	CREATE TABLE IF NOT EXISTS chunks(  id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, seq INTEGER NOT NULL,  text TEXT NOT NULL);
	CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
	CREATE TABLE IF NOT EXISTS vectors(  chunk_id INTEGER PRIMARY KEY, vec BLOB NOT NULL);
	CREATE VIRTUAL TABLE IF NOT EXISTS kb_fts USING fts5(  title, text, tokenize='porter unicode61');
	""")
	db.execute("ATTACH ? AS cur", (sys.argv[2],))
	for t in ("docs", "chunks", "vectors"):
	    db.execute(f"INSERT INTO {t} SELECT * FROM cur.{t}")
	db.execute("INSERT INTO kb_fts(rowid, title, text) SELECT rowid, title, text FROM cur.kb_fts")
	db.execute("INSERT INTO meta SELECT * FROM cur.meta WHERE key != 'schema_version'")
	db.execute("INSERT INTO meta VALUES('schema_version', '1')")
	db.commit()
	db.execute("PRAGMA journal_mode=WAL")
	EOP
}
q() { sqlite3 "$1" "$2"; }

test_expect_success 'setup: version 1 stores made from the test corpus' '
	ingest_fixture "$TEST_DIR/cur.db" &&
	make_v1 v1.db && make_v1 v1b.db && make_v1 v1c.db &&
	test "$(q v1.db "SELECT value FROM meta WHERE key = '\''schema_version'\''")" = 1 &&
	test "$(q v1.db "SELECT count(*) FROM sqlite_master WHERE name = '\''changes'\''")" = 0
'
test_expect_success 'ragd serves a version 1 store, upgrading it in place' '
	start_ragd --db v1.db &&
	test "$(post_search "{\"query\":\"volcano magma\",\"sources\":[\"kb\",\"vector\"]}")" = 200 &&
	test "$(jq -r ".sources.kb.status + .sources.vector.status" out.json)" = okok &&
	test "$(jq -r ".contexts[0].id" out.json)" = d07 &&
	test "$(q v1.db "SELECT value FROM meta WHERE key = '\''schema_version'\''")" = 3 &&
	test "$(q v1.db "SELECT count(*) FROM changes")" = "$(q v1.db "SELECT count(*) FROM docs")" &&
	stop_ragd
'
test_expect_success 'ingest appends to a version 1 store and logs the put' '
	printf "%s\n" "{\"_id\":\"new1\",\"title\":\"Zeppelins\",\"text\":\"Rigid airships called zeppelins crossed the Atlantic.\"}" >new.jsonl &&
	"$RAGD" ingest --db v1b.db new.jsonl >/dev/null &&
	test "$(q v1b.db "SELECT count(*) FROM docs")" = 15 &&
	test "$(q v1b.db "SELECT count(*) FROM changes")" = 15 &&
	test "$(q v1b.db "SELECT doc_id FROM changes ORDER BY seq DESC LIMIT 1")" = new1
'
test_expect_success 'ingest --migrate upgrades a store and nothing else' '
	"$RAGD" ingest --db v1c.db --migrate >out.txt && grep -q "up to date" out.txt &&
	test "$(q v1c.db "SELECT value FROM meta WHERE key = '\''schema_version'\''")" = 3 &&
	test "$(q v1c.db "SELECT count(*) FROM docs")" = 14 &&
	{ "$RAGD" ingest --db v1c.db --migrate new.jsonl 2>err.txt; test $? -eq 2; } && grep -q -- --migrate err.txt &&
	"$RAGD" ingest --help | grep -q -- --migrate
'
# Root may write any file: as root, ragd runs as nobody for this one.
as_reader() {
	if [ "$(id -u)" = 0 ]; then
		chmod 0755 "$TEST_DIR" && setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
	else
		"$@"
	fi
}
test_expect_success 'a version 1 store ragd cannot write is refused with the command' '
	mkdir ro && make_v1 ro/v1.db && chmod 0444 ro/v1.db && chmod 0777 ro &&
	{ as_reader timeout 20 "$RAGD" serve --listen 127.0.0.1:0 --db ro/v1.db >/dev/null 2>err.txt
	  test $? -eq 2; } &&
	grep -qF "ragd ingest --migrate --db ro/v1.db" err.txt
'
test_expect_success 'a store in a directory ragd cannot write says so' '
	mkdir ro2 && make_v1 ro2/v1.db && chmod 0444 ro2/v1.db && chmod 0555 ro2 &&
	{ as_reader timeout 20 "$RAGD" serve --listen 127.0.0.1:0 --db ro2/v1.db >/dev/null 2>err.txt
	  test $? -eq 2; } &&
	chmod 0755 ro2 && grep -qF "needs write access to the store'"'"'s directory" err.txt
'

# vector_top QUERY: the vector source's first document for QUERY.  (Every
# document with a vector is returned at k = 20: only ranks tell.)
vector_top() {
	post_search "{\"query\":\"$1\",\"sources\":[\"vector\"],\"k\":10}" vec.json >/dev/null &&
	jq -r ".contexts[0].id" vec.json
}
# applied N: the vector source has applied the change log N times.
applied() {
	test "$(grep -c "applied [0-9]* changed documents" "$RAGD_LOG")" -ge "$1"
}
test_expect_success 'setup: ragd serving a store, a new document ingested' '
	ingest_fixture s.db && start_ragd --db s.db &&
	"$RAGD" ingest --db s.db new.jsonl >/dev/null &&
	wait_for "test \"\$(vector_top \"zeppelins airships\")\" = new1" && applied 1
'
test_expect_success 'a re-ingested document replaces its old vectors' '
	printf "%s\n" "{\"_id\":\"new1\",\"title\":\"Balloons\",\"text\":\"Hot air balloons drift over Cappadocia at dawn.\"}" >re.jsonl &&
	"$RAGD" ingest --db s.db re.jsonl >/dev/null &&
	wait_for "applied 2" &&
	test "$(vector_top "balloons cappadocia")" = new1 &&
	test "$(vector_top "zeppelins airships volcano")" = d07
'
test_expect_success 'a document whose vectors are gone is no longer returned' '
	"$RAGD" ingest --db s.db --into kb re.jsonl >/dev/null &&
	wait_for "applied 3" &&
	post_search "{\"query\":\"balloons cappadocia\",\"sources\":[\"vector\"],\"k\":20}" vec.json >/dev/null &&
	jq -e "[.contexts[].id] | index(\"new1\") == null" vec.json &&
	post_search "{\"query\":\"balloons cappadocia\",\"sources\":[\"kb\"]}" >/dev/null &&
	test "$(jq -r ".contexts[0].id" out.json)" = new1
'
test_expect_success 'ragd stops cleanly' '
	stop_ragd
'
test_done
