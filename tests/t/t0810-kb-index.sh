#!/bin/sh
# The kb's two engines on SciFact: the in-memory index ("engine": "index")
# must give the FTS5 path's top 10 for all 1,109 queries (identical but for
# the order of scores tied within a relative 1e-9), with and without
# metadata filters, with every query's walk split across two threads too,
# and ragd serving each engine as a kb instance must answer alike over
# HTTP.  Skips when SciFact is absent.
. "$SRCDIR/tests/t/lib.sh"
SCIFACT=${SCIFACT:-$SRCDIR/../shared/eval/scifact}
KBQ=$BUILDDIR/bench/engines/kbq

if [ ! -f "$SCIFACT/corpus.jsonl" ] || [ ! -f "$SCIFACT/queries.jsonl" ]; then
	test_skip_all "SciFact not found at $SCIFACT (set SCIFACT)"
fi

# check [ARGS...]: kbq's comparison of every query, which must pass and say
# identical.
check() {
	"$KBQ" --db sf.db --queries "$SCIFACT/queries.jsonl" --check "$@" >check.out ||
		{ cat check.out; return 1; }
	cat check.out
	grep -q "^check: 1109 queries, .*: identical$" check.out
}

# same_over_http QUERY: the index and fts5 instances return the same ids.
same_over_http() {
	post_search "{\"query\":\"$1\",\"sources\":[\"kb\"],\"k\":10}" a.json >/dev/null &&
	post_search "{\"query\":\"$1\",\"sources\":[\"kbf\"],\"k\":10}" b.json >/dev/null &&
	jq -e ".contexts | length == 10" a.json >/dev/null &&
	test "$(jq -c "[.contexts[].id]" a.json)" = "$(jq -c "[.contexts[].id]" b.json)"
}

test_expect_success 'setup: SciFact in a store' '
	"$RAGD" ingest --db sf.db --into kb "$SCIFACT/corpus.jsonl" >/dev/null
'
test_expect_success 'all 1,109 queries: the index top 10 is the FTS5 top 10' '
	check
'
test -f check.out && say "$(grep "^check:" check.out)"
test_expect_success 'with a filter that keeps about half the documents' '
	check --filter "{\"id\": {\"\$gte\": \"5\"}}"
'
test_expect_success 'with a selective filter (ids below 2, and one id list)' '
	check --filter "{\"id\": {\"\$lt\": \"2\"}}" &&
	check --filter "{\"id\": {\"\$in\": [\"4983\", \"5836\", \"7912\", \"18670\"]}}"
'
test_expect_success 'every walk split across two threads: the same top 10' '
	check --threads 2 --split-cost 0 &&
	check --threads 2 --split-cost 0 --filter "{\"id\": {\"\$gte\": \"5\"}}"
'
test_expect_success 'ragd serves both engines, which answer alike' '
	cat >two.json <<-EOC &&
	{"db": "sf.db", "log_level": "warn", "sources": [
	  {"name": "kb", "type": "kb", "scan_threads": 2},
	  {"name": "kbf", "type": "kb", "engine": "fts5"}]}
	EOC
	validate config two.json && start_ragd --config two.json &&
	same_over_http "cancer immune response" &&
	same_over_http "vitamin D deficiency bone density" &&
	same_over_http "BRCA1 mutations breast cancer risk"
'
test_expect_success 'an unknown engine is a config error naming the key' '
	stop_ragd &&
	echo "{\"db\": \"sf.db\", \"sources\": [{\"name\": \"kb\", \"type\": \"kb\", \"engine\": \"x\"}]}" >bad.json &&
	{ "$RAGD" serve --config bad.json --listen 127.0.0.1:0 2>err.txt; test $? = 2; } &&
	grep -q "engine" err.txt
'
test_expect_success 'scan_threads 0 is a config error naming the key' '
	echo "{\"db\": \"sf.db\", \"sources\": [{\"name\": \"kb\", \"type\": \"kb\", \"scan_threads\": 0}]}" >bad.json &&
	{ "$RAGD" serve --config bad.json --listen 127.0.0.1:0 2>err.txt; test $? = 2; } &&
	grep -q "scan_threads" err.txt
'
test_done
