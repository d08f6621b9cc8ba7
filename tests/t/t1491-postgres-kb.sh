#!/bin/sh
# The kb on a PostgreSQL store: a generated corpus ingested into a SQLite
# store and copied into a throwaway PostgreSQL cluster (ragd migrate); one
# ragd serves the kb from each, and for 30 queries both give the same top
# 10 ids and scores -- also after the same document is written through the
# documents API of each (the PostgreSQL one told by LISTEN/NOTIFY, its
# timer off).  With SciFact present, the same holds for 30 of its claims.
# A query word FTS5 splits in two fails the kb there with a message; the
# "fts5" engine is a config error on PostgreSQL, and a PostgreSQL
# store's default sources include the kb.
. "$SRCDIR/tests/t/lib.sh"
. "$SRCDIR/tests/t/pglib.sh"
SCIFACT=${SCIFACT:-$SRCDIR/../shared/eval/scifact}

# gen N: N documents of words drawn, skewed, from a small vocabulary, some
# long enough for several chunks; then 30 queries of 1 to 4 words, one a
# line, in queries.txt.
gen() {
	"$PY" - "$1" <<-'EOP'
	import json, random, sys
	r = random.Random(1491)
	vocab = [a + b for a in ["kal", "mor", "ten", "vu", "ris", "spo", "dar", "qi", "len", "bo"]
	         for b in ["ta", "ne", "rix", "lo", "ma", "sen", "dor", "pi", "gu", "we"]]
	vocab += ["running", "runs", "ran", "Connected", "connection", "the", "and", "of"]
	def words(n):
	    return " ".join(vocab[min(int(r.expovariate(1 / 25)), len(vocab) - 1)] for _ in range(n))
	with open("corpus.jsonl", "w") as f:
	    for i in range(int(sys.argv[1])):
	        n = r.choice([5, 20, 60, 150, 400])
	        f.write(json.dumps({"_id": "g%04d" % i, "title": words(r.randint(0, 4)),
	                            "text": words(n)}) + "\n")
	with open("queries.txt", "w") as f:
	    for i in range(30):
	        f.write(" ".join(r.choice(vocab) for _ in range(r.randint(1, 4))) + "\n")
	EOP
}

# cfg FILE STORE: serve STORE (--db file or store URL) with the kb alone,
# its index told of writes only by the change feed.
cfg() {
	key=db
	case $2 in postgres*) key=store ;; esac
	printf '{"%s": "%s", "log_level": "warn", "sources": [{"name": "kb", "type": "kb", "refresh_ms": 0}]}\n' \
		"$key" "$2" >"$1"
}

serve() {
	cfg sq.json "$(pwd)/gen.db" && cfg pg.json "$URL" &&
	validate config sq.json pg.json &&
	start_ragd --config sq.json && SQ_URL=$RAGD_URL && SQ_PID=$RAGD_PID && SQ_LOG=$RAGD_LOG &&
	start_ragd --config pg.json && PG_URL=$RAGD_URL && PG_PID=$RAGD_PID && PG_LOG=$RAGD_LOG
}

# top URL QUERY OUT: the kb's top 10 as "id score" lines.
top() {
	jq -n --arg q "$2" '{query: $q, sources: ["kb"], k: 10, generate: false}' >q.json &&
	curl -s -H 'Content-Type: application/json' --data-binary @q.json "$1/search" >top.json &&
	jq -e '.contexts' top.json >/dev/null &&
	jq -r '.contexts[] | "\(.id) \(.score)"' top.json >"$3"
}

# same QUERIES: every query's top 10 is the same from both, and the
# queries find something (so that an empty answer cannot pass).
same() {
	n=0 hits=0
	while IFS= read -r q; do
		top "$SQ_URL" "$q" a.txt && top "$PG_URL" "$q" b.txt || return 1
		if ! cmp -s a.txt b.txt; then
			echo "query '$q' differs:"; paste a.txt b.txt; return 1
		fi
		n=$((n + 1)) hits=$((hits + $(wc -l <a.txt)))
	done <"$1"
	say "$n queries, $hits hits, identical"
	[ "$n" -ge 30 ] && [ "$hits" -ge $((n * 5)) ]
}

# post URL ID TEXT: write one document through URL's documents API.
post() {
	jq -n --arg id "$2" --arg t "$3" '{documents: [{id: $id, title: "kaltane update", text: $t}]}' >d.json &&
	[ "$(curl -s -o post.json -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary @d.json "$1/documents")" = 202 ]
}

# both URL: the two written documents are the only ones with "zorblat".
both() {
	top "$1" zorblat f.txt && [ "$(cut -d" " -f1 f.txt | sort | tr '\n' ' ')" = "g0003 g9999 " ]
}

written_on_both() {
	text="kaltane morrix zorblat zorblat running connected"
	post "$SQ_URL" g9999 "$text" && post "$PG_URL" g9999 "$text" &&
	post "$SQ_URL" g0003 "zorblat replaced" && post "$PG_URL" g0003 "zorblat replaced" &&
	wait_for "both $SQ_URL" 10 && wait_for "both $PG_URL" 10 &&
	echo "zorblat kaltane" >>queries.txt && same queries.txt
}

scifact() {
	"$RAGD" ingest --db sf.db --into kb "$SCIFACT/corpus.jsonl" >/dev/null &&
	"$PGBIN/psql" "$URL" -qAt -c "CREATE DATABASE sf" &&
	SF_URL="postgresql://ragd@/sf?host=$PGDIR&port=5432" &&
	"$RAGD" migrate --from sf.db --to "$SF_URL" >m.out &&
	# Claims in ASCII only: a word FTS5 splits in two (a non-ASCII
	# separator inside it) needs FTS5 itself, which PostgreSQL lacks.
	jq -r '.text' "$SCIFACT/queries.jsonl" | LC_ALL=C grep -v '[^ -~]' | head -n 30 >sfq.txt &&
	cfg sq.json "$(pwd)/sf.db" && cfg pg.json "$SF_URL" &&
	start_ragd --config sq.json && SQ_URL=$RAGD_URL && SQ_PID=$RAGD_PID && SQ_LOG=$RAGD_LOG &&
	start_ragd --config pg.json && PG_URL=$RAGD_URL &&
	same sfq.txt && stop_ragd && RAGD_PID=$SQ_PID RAGD_LOG=$SQ_LOG stop_ragd
}

# A word FTS5 splits in two is an error of the kb, saying why; the other
# words of the store still answer through the index.
split_word() {
	top "$PG_URL" "kaltane patient’s" s.txt && validate search-response top.json &&
	jq -r .sources.kb.error top.json | grep -q "needs FTS5, which a PostgreSQL store lacks" &&
	top "$PG_URL" "kaltane patients" s.txt && [ -s s.txt ]
}

fts5_refused() {
	printf '{"store": "%s", "sources": [{"name": "kb", "type": "kb", "engine": "fts5"}]}\n' \
		"$URL" >bad.json &&
	{ "$RAGD" serve --config bad.json --listen 127.0.0.1:0 2>err.txt; test $? = 2; } &&
	grep -q 'engine: "fts5" needs a SQLite store' err.txt
}

default_sources() {
	printf '{"store": "%s"}\n' "$URL" >def.json &&
	start_ragd --config def.json &&
	jq -n '{query: "kaltane", k: 5, generate: false}' >q.json &&
	curl -s -H 'Content-Type: application/json' --data-binary @q.json "$RAGD_URL/search" >def.out &&
	jq -e '[.contexts[].source] | index("kb") != null' def.out >/dev/null
}

test_expect_success 'setup: a generated corpus in SQLite, copied into PostgreSQL' '
	pg_init && gen 600 && "$RAGD" ingest --db gen.db --into kb corpus.jsonl >/dev/null &&
	"$RAGD" migrate --from gen.db --to "$URL" >m.out && grep -q "copied 600 documents" m.out
'
test_expect_success 'ragd serves the kb from each store' 'serve'
test_expect_success '30 queries: the same top 10 ids and scores from both' 'same queries.txt'
test_expect_success 'after the same writes through each, still the same' 'written_on_both'
test_expect_success 'a word FTS5 splits in two: the kb says it needs FTS5' 'split_word'
test_expect_success 'engine "fts5" on a PostgreSQL store is a config error' 'fts5_refused'
test_expect_success 'a PostgreSQL store serves the kb by default' 'default_sources'
test_expect_success 'both stop cleanly' 'stop_ragd && RAGD_PID=$PG_PID RAGD_LOG=$PG_LOG stop_ragd &&
	RAGD_PID=$SQ_PID RAGD_LOG=$SQ_LOG stop_ragd'
if [ -f "$SCIFACT/corpus.jsonl" ] && [ -f "$SCIFACT/queries.jsonl" ]; then
	test_expect_success 'SciFact: 30 claims, the same top 10 from both' 'scifact'
else
	say "SciFact not found at $SCIFACT (set SCIFACT): its comparison skipped"
fi
test_done
