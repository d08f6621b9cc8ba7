#!/bin/sh
# The vector scan's kernels and its int8 mode end to end: RAGD_VEC_KERNEL
# forces the portable kernel (and a kernel the CPU lacks stops ragd at
# startup, naming it); an instance with "quantize": "int8" answers like the
# exact one, also for a document ingested while ragd runs (its rows are
# appended and quantised, not the whole store reloaded).
. "$SRCDIR/tests/t/lib.sh"
DB=$TEST_DIR/v.db

test_expect_success 'setup: exact and int8 instances on one store, the portable kernel forced' '
	ingest_fixture "$DB" &&
	printf "%s\n" "{\"db\": \"$DB\", \"sources\": [{\"name\": \"v\", \"type\": \"vector\"}, {\"name\": \"vq\", \"type\": \"vector\", \"quantize\": \"int8\", \"rerank\": 20, \"scan_threads\": 2}]}" >cfg.json &&
	validate config cfg.json &&
	RAGD_VEC_KERNEL=portable start_ragd --config cfg.json &&
	grep -q "(exact scan, portable kernel)" "$RAGD_LOG" &&
	grep -q "(int8 scan, portable kernel)" "$RAGD_LOG"
'
# same QUERY: the exact and the int8 instance return the same documents in
# the same order.
same() {
	post_search "{\"query\":\"$1\",\"k\":5,\"generate\":false,\"sources\":[\"v\"]}" v.json >/dev/null &&
	post_search "{\"query\":\"$1\",\"k\":5,\"generate\":false,\"sources\":[\"vq\"]}" vq.json >/dev/null &&
	jq -c "[.contexts[].id]" v.json >v.ids && jq -c "[.contexts[].id]" vq.json >vq.ids &&
	test "$(jq length v.ids)" -gt 0 && cmp -s v.ids vq.ids
}
test_expect_success 'int8 with re-rank answers like the exact scan' '
	same "vector search cosine" && same "event loop sockets" && same "write-ahead log readers"
'
# int8_finds_new1: the int8 instance ranks the newly ingested document first.
int8_finds_new1() {
	post_search "{\"query\":\"zeppelins airships\",\"sources\":[\"vq\"]}" vq.json >/dev/null &&
	test "$(jq -r ".contexts[0].id" vq.json)" = new1
}
test_expect_success 'a document ingested while ragd runs is appended to the int8 rows' '
	printf "%s\n" "{\"_id\":\"new1\",\"title\":\"Zeppelins\",\"text\":\"Rigid airships called zeppelins crossed the Atlantic.\"}" >new.jsonl &&
	"$RAGD" ingest --db "$DB" new.jsonl >/dev/null &&
	wait_for int8_finds_new1 &&
	grep -q "applied 1 changed documents" "$RAGD_LOG" &&
	same "zeppelins airships"
'
test_expect_success 'ragd stops cleanly' '
	stop_ragd
'
test_expect_success 'a kernel this CPU cannot run stops ragd at startup, naming it' '
	! RAGD_VEC_KERNEL=sse9 "$RAGD" serve --config cfg.json --listen 127.0.0.1:0 >k.out 2>k.err &&
	grep -q "RAGD_VEC_KERNEL: no kernel \"sse9\"" k.err
'
test_expect_success 'a quantize that is not none or int8 is refused, naming the key' '
	printf "%s\n" "{\"db\": \"$DB\", \"sources\": [{\"name\": \"v\", \"type\": \"vector\", \"quantize\": \"int4\"}]}" >bad.json &&
	! "$RAGD" serve --config bad.json --listen 127.0.0.1:0 >b.out 2>b.err &&
	grep -q "quantize: \"none\" or \"int8\"" b.err
'
test_done
