#!/bin/sh
# Circuit breaker: a web source that keeps failing is skipped ("circuit
# open") instead of asked, one request is let through after the open period,
# and its success closes the breaker.
. "$SRCDIR/tests/t/lib.sh"

# web_is STATUS [ERROR]: one search; web's status is STATUS (and its error
# contains ERROR).
web_is() {
	test "$(post_search '{"query":"volcano","timeout_ms":10000}')" = 200 &&
	test "$(jq -r .sources.web.status out.json)" = "$1" &&
	{ [ -z "${2:-}" ] || jq -r .sources.web.error out.json | grep -q -- "$2"; }
}

# web_times_out: one search with a short deadline; web timed out.
web_times_out() {
	test "$(post_search '{"query":"volcano","timeout_ms":200}')" = 200 &&
	test "$(jq -r .sources.web.status out.json)" = timeout
}

# breaker_metric NAME: the sample NAME{source="web"} from GET /metrics.
breaker_metric() {
	curl -s "$RAGD_URL/metrics" >m.txt &&
	"$PY" "$SRCDIR/tests/t/prom.py" m.txt value "$1" source=web
}

test_expect_success 'setup' '
	start_fakeup UP &&
	cat >cfg.json <<-JSON &&
	{"sources": [{"name": "web", "type": "web", "url": "$UP_URL",
	  "breaker_failures": 3, "breaker_open_ms": 5000, "breaker_max_open_ms": 20000}]}
	JSON
	validate config cfg.json && start_ragd --config cfg.json
'
test_expect_success 'a healthy source is asked' '
	web_is ok && validate search-response out.json &&
	test "$(breaker_metric ragd_source_breaker_state)" = 0
'
test_expect_success 'failures below the threshold are reported as errors' '
	fake_control "$UP_URL" "{\"mode\":\"fail\",\"status\":503}" &&
	web_is error "HTTP 503" && web_is error "HTTP 503"
'
test_expect_success 'the third failure opens the circuit: web is skipped, not asked' '
	web_is error "HTTP 503" &&
	wait_for_line "$RAGD_LOG" "source web: circuit open" &&
	wait_for "web_is skipped \"circuit open\"" &&
	validate search-response out.json &&
	before=$(curl -s "$UP_URL/stats" | jq .requests) &&
	web_is skipped "circuit open" &&
	test "$(curl -s "$UP_URL/stats" | jq .requests)" = "$before" &&
	test "$(breaker_metric ragd_source_breaker_state)" = 1 &&
	test "$(breaker_metric ragd_source_breaker_opened_total)" = 1
'
test_expect_success 'after the open period one request probes; success closes it' '
	fake_control "$UP_URL" "{\"reset\":true}" &&
	wait_for "web_is ok" &&
	wait_for_line "$RAGD_LOG" "source web: circuit half-open" &&
	wait_for_line "$RAGD_LOG" "source web: circuit closed" &&
	web_is ok && web_is ok &&
	test "$(grep -c "circuit closed" "$RAGD_LOG")" = 1 &&
	test "$(breaker_metric ragd_source_breaker_state)" = 0
'
test_expect_success 'timeouts count as failures too' '
	fake_control "$UP_URL" "{\"mode\":\"hang\"}" &&
	web_times_out && web_times_out && web_times_out &&
	wait_for "web_is skipped \"circuit open\"" &&
	fake_control "$UP_URL" "{\"reset\":true}" && wait_for "web_is ok"
'
test_expect_success 'stop' 'stop_ragd'
test_expect_success 'a bad breaker key is refused at startup, naming it' '
	cat >bad.json <<-JSON &&
	{"sources": [{"name": "web", "type": "web", "url": "$UP_URL", "breaker_failures": -1}]}
	JSON
	! "$RAGD" serve --listen 127.0.0.1:0 --config bad.json 2>bad.err &&
	grep -q "breaker_failures" bad.err
'
test_done
