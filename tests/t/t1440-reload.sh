#!/bin/sh
# SIGHUP reloads the config while serving: source instances (added,
# removed, re-weighted; an unchanged one keeps its state), limits, API keys
# and the access log change; a search in flight finishes on what it started
# with; a config that fails to load leaves the running one, with a log
# line; settings that need a restart are named and kept.
. "$SRCDIR/tests/t/lib.sh"
DB=$TEST_DIR/r.db
KEY1=k-first-5ecret-0123456789
KEY2=k-second-5ecret-0123456789

# keys FILE KEY: a key file with one search key.
keys() {
	printf '{"keys": [{"name": "app", "key": "%s", "scopes": ["search"]}]}\n' "$2" >"$1" &&
	chmod 600 "$1"
}

# cfg EXTRA_SOURCES EXTRA_KEYS: write cfg.json (kb + a web source with a
# one-failure breaker, then EXTRA_SOURCES, then top-level EXTRA_KEYS).
cfg() {
	cat >cfg.json <<-JSON
	{"db": "$DB", "api_keys_file": "keys.json", "access_log": "${LOG_FILE:-access1.log}",
	 "sources": [{"name": "kb", "type": "kb"},
	             {"name": "web", "type": "web", "url": "$UP_URL", "breaker_failures": 1,
	              "breaker_open_ms": 600000, "weight": ${WEB_WEIGHT:-1}}${1:-}]${2:-}}
	JSON
}

# search KEY [BODY]: status of a /search with KEY; the body in out.json.
search() {
	curl -s -o out.json -w '%{http_code}' -H "Authorization: Bearer $1" \
		-H 'Content-Type: application/json' \
		--data-binary "${2:-{\"query\":\"volcano\",\"timeout_ms\":20000\}}" "$RAGD_URL/search"
}

# reload: SIGHUP, then wait for the Nth outcome line (loaded or kept).
reloads=0
reload() {
	reloads=$((reloads + 1))
	kill -HUP "$RAGD_PID" &&
	wait_for "test \$(grep -c 'reload: config loaded\|still running with the previous config' \
		\"\$RAGD_LOG\") -ge $reloads"
}

test_expect_success 'setup: store, a web upstream, ragd on a config file' '
	ingest_fixture "$DB" && start_fakeup UP && keys keys.json "$KEY1" && cfg && 
	validate config cfg.json && start_ragd --config cfg.json
'
test_expect_success 'the first key searches, kb and web answer' '
	test "$(search "$KEY1")" = 200 &&
	test "$(jq -r .sources.web.status out.json)" = ok &&
	test "$(search "$KEY2")" = 401
'
test_expect_success 'web fails once: its breaker opens' '
	fake_control "$UP_URL" "{\"mode\":\"fail\",\"status\":503}" &&
	test "$(search "$KEY1")" = 200 && test "$(jq -r .sources.web.status out.json)" = error &&
	fake_control "$UP_URL" "{\"reset\":true}" &&
	test "$(search "$KEY1")" = 200 && jq -e ".sources.web.error == \"circuit open\"" out.json
'
slow_search() {
	fake_control "$UP_URL" "{\"mode\":\"hang\"}" &&
	{ search "$KEY1" "{\"query\":\"volcano\",\"sources\":[\"fresh\"],\"timeout_ms\":3000}" \
		>inflight.code; mv out.json inflight.json; } &
	inflight=$!
	wait_for "fake_stat \"$UP_URL\" \".hanging == 1\""
}
test_expect_success 'reload: a new source, a new weight, rotated keys, a new access log' '
	cfg ", {\"name\": \"fresh\", \"type\": \"web\", \"url\": \"$UP_URL\"}" &&
	reload && test "$(search "$KEY1")" = 200 &&
	jq -e ".sources.fresh.status == \"ok\"" out.json &&
	slow_search &&
	keys keys.json "$KEY2" && WEB_WEIGHT=0.5 LOG_FILE=access2.log cfg &&
	reload && grep -q "reload: config loaded, 2 sources" "$RAGD_LOG"
'
test_expect_success 'the search in flight finished on the sources it started with' '
	wait $inflight; test "$(cat inflight.code)" = 200 &&
	jq -e ".sources.fresh.status == \"timeout\"" inflight.json &&
	fake_control "$UP_URL" "{\"reset\":true}"
'
test_expect_success 'after the reload: the new key, the removed source, the new log' '
	test "$(search "$KEY1")" = 401 && test "$(search "$KEY2")" = 200 &&
	jq -e ".sources | has(\"fresh\") | not" out.json &&
	test "$(search "$KEY2" "{\"query\":\"volcano\",\"sources\":[\"fresh\"]}")" = 400 &&
	jq -e ".error.code == \"unknown_source\"" out.json &&
	wait_for "grep -q . access2.log" && n=$(wc -l <access1.log) &&
	test "$(search "$KEY2")" = 200 && test "$(wc -l <access1.log)" = "$n"
'
test_expect_success 'an instance whose config kept all but its weight kept its state' '
	test "$(search "$KEY2")" = 200 && jq -e ".sources.web.error == \"circuit open\"" out.json &&
	test "$(grep -c "source web: circuit open" "$RAGD_LOG")" = 1
'
test_expect_success 'limits reload: max_k' '
	test "$(search "$KEY2" "{\"query\":\"volcano\",\"k\":8}")" = 200 &&
	WEB_WEIGHT=0.5 LOG_FILE=access2.log cfg "" ", \"max_k\": 5" && reload &&
	test "$(search "$KEY2" "{\"query\":\"volcano\",\"k\":8}")" = 400 &&
	jq -r .error.message out.json | grep -q "^k:"
'
test_expect_success 'a config that fails to load leaves the running one, and says so' '
	echo "{\"sources\": [" >cfg.json && reload &&
	grep -q "reload: .*cfg.json.*still running with the previous config" "$RAGD_LOG" &&
	test "$(search "$KEY2")" = 200 &&
	cat >cfg.json <<-JSON &&
	{"db": "$DB", "api_keys_file": "keys.json", "sources": [{"name": "kb", "type": "kb", "weight": -1}]}
	JSON
	reload && grep -q "reload: source kb: weight" "$RAGD_LOG" &&
	test "$(search "$KEY2")" = 200 && jq -e ".sources | has(\"web\")" out.json &&
	cat >cfg.json <<-JSON &&
	{"db": "$DB", "api_keys_file": "missing-keys.json", "sources": [{"name": "kb", "type": "kb"}]}
	JSON
	reload && grep -q "reload: api keys .*missing-keys.json" "$RAGD_LOG" &&
	test "$(search "$KEY2")" = 200 && jq -e ".sources | has(\"web\")" out.json
'
test_expect_success 'a setting that needs a restart is named and kept' '
	WEB_WEIGHT=0.5 LOG_FILE=access2.log cfg "" ", \"llm_model\": \"other\", \"workers\": 3" &&
	reload &&
	grep -q "reload: llm_model, workers changed, which needs a restart" "$RAGD_LOG" &&
	test "$(search "$KEY2")" = 200
'
test_expect_success 'stop: a clean shutdown after reloads' 'stop_ragd'
test_done
