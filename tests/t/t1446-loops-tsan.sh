#!/bin/sh
# ThreadSanitizer over several event loops: ragd built with
# -fsanitize=thread serves on four loops under load while documents are
# written and deleted, batches and searches whose clients leave come and
# go, and reloads change weights, deadlines and the cache; not one data
# race may be reported, and it must exit cleanly.
. "$SRCDIR/tests/t/lib.sh"
unset RAGD_TEST_LOOPS
TSAN_BUILD=$TEST_DIR/tsan

if ! echo 'int main(void){return 0;}' | cc -fsanitize=thread -x c - -o "$TEST_DIR/t" 2>/dev/null ||
	! "$TEST_DIR/t" 2>/dev/null; then
	test_skip_all "this compiler cannot build with -fsanitize=thread"
fi

test_expect_success 'ragd builds with ThreadSanitizer' '
	mkdir -p "$TSAN_BUILD" && cd "$TSAN_BUILD" &&
	"$SRCDIR/configure" --quiet --without-jemalloc CFLAGS="-O1 -g -fsanitize=thread" \
		LDFLAGS="-fsanitize=thread" >configure.log 2>&1 &&
	make -s -j2 ragd tests/fakeup/fakeup >build.log 2>&1; rc=$?; cd "$TEST_DIR"; test $rc -eq 0
'
RAGD=$TSAN_BUILD/ragd
export TSAN_OPTIONS="halt_on_error=0 report_signal_unsafe=0"

# cfg CACHE_TTL_MS VECTOR_WEIGHT WEB_TIMEOUT_MS: write cfg.json.
cfg() {
	cat >cfg.json <<-JSON
	{"db": "s.db", "cache_ttl_ms": $1,
	 "sources": [{"name": "kb", "type": "kb"}, {"name": "vector", "type": "vector", "weight": $2},
	             {"name": "web", "type": "web", "url": "$UP_URL", "hedge_share": 0.5,
	              "hedge_floor_ms": 1, "timeout_ms": $3}]}
	JSON
}
test_expect_success 'setup: store, upstream, ragd on four loops' '
	"$RAGD" ingest --db s.db "$SRCDIR/tests/data/corpus.jsonl" >/dev/null 2>ingest.log &&
	start_fakeup UP && fake_control "$UP_URL" "{\"delay_ms\":5}" && cfg 500 1 1000 &&
	start_ragd --config cfg.json --loops 4
'
# load: searches on 16 connections at a time until stop exists.
load() {
	while [ ! -e stop ]; do
		seq 16 | xargs -P 16 -I{} curl -s -o /dev/null -H "Content-Type: application/json" \
			--data-binary "{\"query\":\"volcano lava {}\",\"generate\":false}" "$RAGD_URL/search"
	done
}
# churn I: one round of everything else, then a reload.
churn() {
	curl -s -o /dev/null -H "Content-Type: application/json" \
		--data-binary "{\"documents\":[{\"id\":\"t$1\",\"text\":\"volcano lava number $1\"}]}" \
		"$RAGD_URL/documents" &&
	curl -s -o /dev/null -H "Content-Type: application/json" \
		--data-binary "{\"queries\":[{\"query\":\"volcano\"},{\"query\":\"lava\"}]}" \
		"$RAGD_URL/search/batch" &&
	{ curl -s -o /dev/null --max-time 0.01 "$RAGD_URL/search?q=leave+$1"; true; } &&
	curl -s -o /dev/null -X DELETE "$RAGD_URL/documents/t$(($1 - 1))" &&
	curl -s -o /dev/null "$RAGD_URL/metrics" && curl -s -o /dev/null "$RAGD_URL/sources" &&
	cfg $(($1 % 2 * 500)) $(($1 % 3 + 1)) $(($1 % 2 * 500 + 500)) && kill -HUP "$RAGD_PID" &&
	wait_for "test \$(grep -c \"reload: config loaded\" \"$RAGD_LOG\") -ge $1"
}
rounds() {
	load & lpid=$!
	for i in $(seq 10); do churn "$i" || { touch stop; wait $lpid; return 1; }; done
	touch stop; wait $lpid
}
test_expect_success 'load, writes, batches, leaving clients and reloads: no data race' '
	rounds && stop_ragd &&
	say "$(grep -c "\"route\":\"/search\"" "$RAGD_LOG") searches, $(grep -c "reload: config loaded" "$RAGD_LOG") reloads" &&
	! grep -A30 "WARNING: ThreadSanitizer" "$RAGD_LOG"
'
test_done
