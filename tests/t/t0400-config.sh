#!/bin/sh
# The config file: source instances with weights and deadlines, flags
# overriding the file, and startup errors that name the problem.
. "$SRCDIR/tests/t/lib.sh"
DB=$TEST_DIR/c.db

# serve_fails CONFIG WORD: ragd refuses to start (exit 2) naming WORD.
serve_fails() {
	printf "%s\n" "$1" >bad.json
	"$RAGD" serve --config bad.json --listen 127.0.0.1:0 2>err.txt
	rc=$?
	test $rc -eq 2 || { echo "exit $rc"; cat err.txt; return 1; }
	grep -qF -- "$2" err.txt || { cat err.txt; return 1; }
}

test_expect_success 'setup' '
	ingest_fixture "$DB" && start_fakeup UP
'
test_expect_success 'two kb instances on one store answer independently' '
	cat >two.json <<-EOC &&
	{"db": "$DB", "log_level": "warn", "sources": [
	  {"name": "docs", "type": "kb", "weight": 1.0, "timeout_ms": 800},
	  {"name": "titles", "type": "kb", "text_weight": 0.0, "title_weight": 1.0},
	  {"name": "web", "type": "web", "enabled": false}]}
	EOC
	validate config two.json && start_ragd --config two.json &&
	test "$(post_search "{\"query\":\"volcano\"}")" = 200 &&
	test "$(jq -r ".sources | keys_unsorted | join(\",\")" out.json)" = docs,titles,web &&
	test "$(jq -r .sources.docs.status out.json)" = ok &&
	test "$(jq -r .sources.titles.status out.json)" = ok &&
	test "$(jq -r .sources.web.status out.json)" = disabled &&
	test "$(post_search "{\"query\":\"volcano\",\"sources\":[\"titles\"]}")" = 200 &&
	test "$(jq -r .contexts[0].source out.json)" = titles &&
	stop_ragd
'
test_expect_success 'weights steer fusion' '
	cat >w.json <<-EOC &&
	{"db": "$DB", "sources": [
	  {"name": "kb", "type": "kb", "weight": 0.1},
	  {"name": "web", "type": "web", "url": "$UP_URL", "weight": 5.0}]}
	EOC
	start_ragd --config w.json &&
	post_search "{\"query\":\"volcano\"}" >/dev/null &&
	test "$(jq -r .contexts[0].source out.json)" = web &&
	stop_ragd
'
test_expect_success 'by default the hash-embedded vector source has fusion weight 0' '
	start_ragd --db "$DB" &&
	post_search "{\"query\":\"volcano lava magma\",\"generate\":false}" >/dev/null &&
	test "$(jq -r .contexts[0].id out.json)" = d07 && test "$(jq -r .contexts[0].source out.json)" = kb &&
	jq -e ".contexts[0].score - (1 / 61) | fabs < 1e-14" out.json >/dev/null &&
	jq -e "[.contexts[] | select(.source == \"vector\") | .score] | all(. == 0)" out.json >/dev/null &&
	stop_ragd
'
test_expect_success 'flags override the file' '
	printf "{\"db\": \"%s\", \"listen\": \"127.0.0.1:1\"}\n" "$DB" >l.json &&
	start_ragd --config l.json &&
	curl -sf "$RAGD_URL/healthz" >/dev/null && stop_ragd
'
test_expect_success 'a config file that is not JSON: exit 2 naming the line' '
	serve_fails "{\"db\": " "line"
'
test_expect_success 'an unknown key: exit 2 naming it' '
	serve_fails "{\"db\": \"$DB\", \"dbb\": 1}" "dbb"
'
test_expect_success 'a key of the wrong type: exit 2 naming it' '
	serve_fails "{\"db\": \"$DB\", \"timeout_ms\": \"fast\"}" "timeout_ms"
'
test_expect_success 'an unknown source type: exit 2 naming the source' '
	serve_fails "{\"db\": \"$DB\", \"sources\": [{\"name\": \"es\", \"type\": \"elastic\"}]}" "elastic"
'
test_expect_success 'a duplicate source name: exit 2' '
	serve_fails "{\"db\": \"$DB\", \"sources\": [{\"name\": \"a\", \"type\": \"kb\"}, {\"name\": \"a\", \"type\": \"kb\"}]}" "twice"
'
test_expect_success 'a source config error: exit 2 naming source and key' '
	serve_fails "{\"db\": \"$DB\", \"sources\": [{\"name\": \"w\", \"type\": \"web\"}]}" "url" &&
	grep -q "source w" err.txt
'
test_expect_success 'a kb on a file that is not a ragd store: exit 2 naming it' '
	echo hello >notadb &&
	serve_fails "{\"sources\": [{\"name\": \"k\", \"type\": \"kb\", \"db\": \"notadb\"}]}" "notadb"
'
test_done
