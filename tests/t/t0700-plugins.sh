#!/bin/sh
# Source plugins: built out of tree against the installed <ragd/source.h>
# (make install DESTDIR=...), loaded with dlopen, queried through /search;
# broken plugins refused with messages that name the problem.
. "$SRCDIR/tests/t/lib.sh"
: "${BUILDDIR:?BUILDDIR must point at the build tree}"
DB=$TEST_DIR/p.db
INST=$TEST_DIR/inst

# The stuck plugin's searches never call back, so ragd deliberately never
# frees their slots (the plugin might still use them): that ragd runs without
# the leak checker.

# plugin NAME [SOURCE [CFLAGS...]]: build tests/plugins/NAME.c (or SOURCE)
# as NAME.so with nothing but the installed header and pkg-config, strict C11
# and no warnings: a plugin that needs more says so itself.
plugin() {
	name=$1 src=${2:-$SRCDIR/tests/plugins/$1.c}; shift; [ $# -eq 0 ] || shift
	cc -std=c11 -Wall -Wextra -Werror "$@" -shared -fPIC \
		$(PKG_CONFIG_SYSROOT_DIR=$INST PKG_CONFIG_PATH=$INST$PREFIX/lib/pkgconfig pkg-config --cflags ragd-source) \
		-o "$name.so" "$src" $(pkg-config --libs jansson)
}
# serve_fails WORDS...: ragd refuses bad.json (exit 2) naming every WORD.
serve_fails() {
	"$RAGD" serve --config bad.json --listen 127.0.0.1:0 2>err.txt; rc=$?
	test $rc -eq 2 || { echo "exit $rc"; cat err.txt; return 1; }
	for w in "$@"; do grep -qF -- "$w" err.txt || { cat err.txt; return 1; }; done
}

test_expect_success 'make install puts the header, pkg-config file and plugins in place' '
	make -s -C "$BUILDDIR" install DESTDIR="$INST" >install.log 2>&1 &&
	PREFIX=$(sed -n "s/^prefix=//p" "$BUILDDIR/ragd-source.pc") &&
	test -f "$INST$PREFIX/include/ragd/source.h" &&
	test -f "$INST$PREFIX/lib/ragd/httpjson.so" &&
	PKG_CONFIG_SYSROOT_DIR=$INST PKG_CONFIG_PATH=$INST$PREFIX/lib/pkgconfig pkg-config --cflags ragd-source | grep -q "$INST"
'
test_expect_success 'the README plugin is the tested one, under 60 lines' '
	sed -n "/^\`\`\`c faq.c/,/^\`\`\`$/p" "$SRCDIR/README.md" | sed "1d;\$d" >readme-faq.c &&
	diff -u "$SRCDIR/tests/plugins/faq.c" readme-faq.c &&
	test "$(wc -l <readme-faq.c)" -lt 60
'
test_expect_success 'the README plugin builds with the README command, warning-free' '
	cmd=$(grep "^cc -shared .* -o faq.so faq.c$" "$SRCDIR/README.md") && test -n "$cmd" &&
	mkdir -p readme && cp readme-faq.c readme/faq.c &&
	( cd readme && export PKG_CONFIG_SYSROOT_DIR="$INST" PKG_CONFIG_PATH="$INST$PREFIX/lib/pkgconfig" &&
	  eval "$cmd -Wall -Wextra -Werror" 2>err.txt && test ! -s err.txt ) ||
	{ cat readme/err.txt; false; }
'
test_expect_success 'plugins build out of tree with one cc line' '
	plugin faq readme-faq.c && plugin never && plugin badabi && plugin noentry && plugin abi1 &&
	plugin httpjson "$SRCDIR/sources/httpjson/httpjson.c" -D_GNU_SOURCE
'
test_expect_success 'setup: store, fake upstream, config with plugin instances' '
	ingest_fixture "$DB" && start_fakeup UP &&
	cat >cfg.json <<-EOC &&
	{"db": "$DB", "timeout_ms": 2000, "sources": [
	  {"name": "kb", "type": "kb"},
	  {"name": "faq1", "type": "./faq.so", "entries": [{"id": "f1", "title": "One", "text": "Volcano facts from the first list"}]},
	  {"name": "faq2", "type": "$TEST_DIR/faq.so", "entries": [{"id": "f2", "title": "Two", "text": "Volcano trivia from the second list"}]},
	  {"name": "searx", "type": "./httpjson.so", "url": "$UP_URL/search?q={query}&format=json", "results": "results",
	   "hedge_share": 0.1, "hedge_floor_ms": 200, "breaker_failures": 3,
	   "fields": {"id": "url", "title": "title", "text": "content", "url": "url", "score": "score"}},
	  {"name": "stuck", "type": "./never.so", "timeout_ms": 300}]}
	EOC
	validate config cfg.json &&
	saved_asan=${ASAN_OPTIONS-} && export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" &&
	start_ragd --config cfg.json; rc=$?; export ASAN_OPTIONS="$saved_asan"; test $rc -eq 0
'
test_expect_success 'two instances of one plugin answer independently' '
	test "$(post_search "{\"query\":\"volcano\",\"sources\":[\"faq1\",\"faq2\"],\"generate\":false}")" = 200 &&
	test "$(jq -r "[.contexts[] | .source + \":\" + .id] | sort | join(\",\")" out.json)" = "faq1:f1,faq2:f2"
'
test_expect_success 'the HTTP JSON plugin maps a real search API' '
	post_search "{\"query\":\"volcano\",\"sources\":[\"searx\"],\"generate\":false}" >/dev/null &&
	test "$(jq -r .sources.searx.status out.json)" = ok &&
	jq -e ".contexts[0].url | startswith(\"https://example.org/volcano\")" out.json >/dev/null
'
test_expect_success 'a plugin that never calls back is cut off by its deadline; the rest answer' '
	post_search "{\"query\":\"volcano\"}" >/dev/null &&
	test "$(jq -r .sources.stuck.status out.json)" = timeout &&
	jq -e ".sources.stuck.latency_ms >= 300" out.json >/dev/null &&
	test "$(jq -r ".sources.kb.status + .sources.faq1.status + .sources.searx.status" out.json)" = okokok &&
	test "$(jq .partial out.json)" = true && validate search-response out.json
'
test_expect_success 'ragd still stops, without destroying the stuck plugin' '
	stop_ragd && grep -q "stuck: 1 searches never called back" "$RAGD_LOG"
'
test_expect_success 'a plugin type found by name in --plugin-dir' '
	mkdir -p pd && cp faq.so pd/faq.so &&
	printf "%s\n" "{\"db\": \"$DB\", \"sources\": [{\"name\": \"f\", \"type\": \"faq\", \"entries\": []}]}" >byname.json &&
	start_ragd --config byname.json --plugin-dir "$TEST_DIR/pd" && stop_ragd
'
test_expect_success 'the wrong ABI version is refused, naming the plugin and both versions' '
	printf "%s\n" "{\"db\": \"$DB\", \"sources\": [{\"name\": \"b\", \"type\": \"./badabi.so\"}]}" >bad.json &&
	serve_fails "source b" "badabi.so" "ABI version 42" "version 3" "versions 1 and 2"
'
test_expect_success 'a shared object without the entry point is refused' '
	printf "%s\n" "{\"db\": \"$DB\", \"sources\": [{\"name\": \"n\", \"type\": \"./noentry.so\"}]}" >bad.json &&
	serve_fails "noentry.so" "no ragd_source_entry()"
'
test_expect_success 'a missing plugin file is refused' '
	printf "%s\n" "{\"db\": \"$DB\", \"sources\": [{\"name\": \"m\", \"type\": \"./missing.so\"}]}" >bad.json &&
	serve_fails "missing.so" "cannot load"
'
test_expect_success 'an invalid plugin config is refused, naming instance and key' '
	printf "%s\n" "{\"db\": \"$DB\", \"sources\": [{\"name\": \"f\", \"type\": \"./faq.so\", \"entries\": 3}]}" >bad.json &&
	serve_fails "source f (faq)" "entries"
'
test_expect_success 'an ABI 1 plugin still loads and answers (on one event loop)' '
	cat >filt.json <<-EOC &&
	{"db": "$DB", "timeout_ms": 2000, "sources": [
	  {"name": "old", "type": "./abi1.so"},
	  {"name": "faq", "type": "./faq.so", "entries": [
	    {"id": "f1", "title": "One", "text": "Volcano facts", "metadata": {"lang": "en"}},
	    {"id": "f2", "title": "Two", "text": "Volcano trivia", "metadata": {"lang": "de"}},
	    {"id": "f3", "title": "Three", "text": "Volcano lore"}]}]}
	EOC
	start_ragd --config filt.json --loops auto &&
	grep -q "source old: its source type \"abi1\" (source ABI version 1) does not declare RAGD_SOURCE_LOOPS.*serving on one event loop" "$RAGD_LOG" &&
	test "$(post_search "{\"query\":\"volcano\",\"generate\":false}")" = 200 &&
	test "$(jq -r ".sources.old.status, .sources.old.hits" out.json | paste -sd,)" = ok,1 &&
	test "$(jq -r ".sources.faq.hits" out.json)" = 3
'
test_expect_success 'with a filter, it is skipped: ABI 1 cannot say it filters' '
	test "$(post_search "{\"query\":\"volcano\",\"generate\":false,\"filter\":{\"lang\":{\"\$ne\":\"de\"}}}")" = 200 &&
	test "$(jq -r ".sources.old | .status + \",\" + .error + \",\" + (.hits|tostring)" out.json)" = "skipped,cannot apply filter,0" &&
	test "$(jq -r .partial out.json)" = false && validate search-response out.json
'
test_expect_success 'a plugin declaring RAGD_SOURCE_FILTERS filters with host->filter_match' '
	test "$(jq -r "[.contexts[].id] | sort | join(\",\")" out.json)" = "f1,f3" &&
	stop_ragd
'
test_expect_success 'asked for several loops by number, an ABI 1 plugin is refused by name' '
	cp filt.json bad.json && sed -i "s/\"timeout_ms\": 2000/\"timeout_ms\": 2000, \"loops\": 3/" bad.json &&
	serve_fails "source old" "source ABI version 1" "RAGD_SOURCE_LOOPS" "3 event loops" "--loops 1"
'
# loops_taken: how many event loops took at least one request.
loops_taken() {
	curl -s "$RAGD_URL/metrics" | awk "/^ragd_loop_requests_total/ && \$2 > 0" | wc -l
}
# many_searches N: N searches, each on a connection of its own, all 200.
many_searches() {
	seq "$1" | xargs -P 16 -I{} curl -s -o /dev/null -w "%{http_code}\n" \
		-H "Content-Type: application/json" --data-binary "{\"query\":\"volcano {}\",\"generate\":false}" \
		"$RAGD_URL/search" >codes.txt &&
	test "$(sort -u codes.txt)" = 200 && test "$(wc -l <codes.txt)" -eq "$1"
}
test_expect_success 'plugins that declare RAGD_SOURCE_LOOPS serve on several loops' '
	jq "del(.sources[0])" filt.json >loops.json &&
	start_ragd --config loops.json --loops 3 && many_searches 64 &&
	test "$(loops_taken)" -ge 2 &&
	test "$(post_search "{\"query\":\"volcano\",\"generate\":false}")" = 200 &&
	test "$(jq -r ".sources.faq.hits" out.json)" = 3 &&
	stop_ragd
'
test_expect_success 'a broken plugin builds' '
	plugin broken && cat >broken.json <<-EOC
	{"db": "$DB", "timeout_ms": 2000, "sources": [
	  {"name": "kb", "type": "kb"},
	  {"name": "utf8", "type": "./broken.so", "mode": "utf8"},
	  {"name": "many", "type": "./broken.so", "mode": "many"},
	  {"name": "long", "type": "./broken.so", "mode": "long"},
	  {"name": "error", "type": "./broken.so", "mode": "error"}]}
	EOC
'
# broken_search SOURCE: search kb and SOURCE: 200, a valid response in
# out.json, both ok.
broken_search() {
	test "$(post_search "{\"query\":\"volcano\",\"k\":5,\"sources\":[\"kb\",\"$1\"],\"generate\":false}")" = 200 &&
	validate search-response out.json &&
	test "$(jq -r ".sources.kb.status, .sources[\"$1\"].status" out.json | paste -sd,)" = ok,ok
}
# broken_hit FIELD: that field of the one context from the utf8 source.
broken_hit() {
	jq -r ".contexts[] | select(.source == \"utf8\") | .$1" out.json
}
test_expect_success 'strings that are not UTF-8 are repaired byte by byte; the search is answered' '
	start_ragd --config broken.json && broken_search utf8 &&
	test "$(broken_hit id)" = "u1$(printf "\357\277\275")" &&
	test "$(broken_hit title)" = "Title $(printf "\357\277\275")" &&
	test "$(broken_hit url)" = "http://example.com/$(printf "\357\277\275\357\277\275")" &&
	test "$(broken_hit text)" = "caf$(printf "\357\277\275") au lait $(printf "\357\277\275\357\277\275")" &&
	wait_for_line "$RAGD_LOG" "source utf8: 4 strings were not UTF-8"
'
test_expect_success 'a source answering 5,000 hits for k = 5 has 5 kept, and says so' '
	broken_search many && test "$(jq -r .sources.many.hits out.json)" = 5 &&
	test "$(jq "[.contexts[] | select(.source == \"many\")] | length" out.json)" -le 5 &&
	wait_for_line "$RAGD_LOG" "source many: answered 5000 hits where 5 were asked"
'
test_expect_success 'a text over 64 KiB is cut at a character boundary' '
	broken_search long &&
	test "$(jq -r ".contexts[] | select(.source == \"long\") | .text | length" out.json)" = 65534 &&
	wait_for_line "$RAGD_LOG" "source long: 1 strings were too long"
'
test_expect_success 'an error message of 5,000 bytes, not UTF-8, is repaired and cut to 1,024' '
	test "$(post_search "{\"query\":\"volcano\",\"sources\":[\"kb\",\"error\"],\"generate\":false}")" = 200 &&
	validate search-response out.json &&
	test "$(jq -r ".sources.error.status, .sources.kb.status" out.json | paste -sd,)" = error,ok &&
	test "$(jq -r ".sources.error.error" out.json)" = "$(printf "\357\277\275")$(printf "%01021d" 0 | tr 0 e)" &&
	wait_for_line "$RAGD_LOG" "source error: its error message was not UTF-8 .* and was cut" && stop_ragd
'
test_done
