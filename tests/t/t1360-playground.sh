#!/bin/sh
# The playground page in a real browser (headless Chromium driven by
# Selenium, tests/browser/playground.py): source lanes settle in order, a
# slow source shown late and a failing one failed, the answer streams,
# citations highlight their context, uploads reach done and are found,
# hostile markup is shown literally, a bad filter is shown in place, a key
# is asked for when keys exist, and axe-core finds no serious accessibility
# problem.  Screenshots go to $PLAYGROUND_OUT (default
# playground-shots in the build directory).
. "$SRCDIR/tests/t/lib.sh"
DB=$TEST_DIR/b.db
OUT=${PLAYGROUND_OUT:-${BUILDDIR:-$TEST_DIR}/playground-shots}

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
export CHROMIUM CHROMEDRIVER
for need in "$CHROMIUM" "$CHROMEDRIVER"; do
	[ -x "$need" ] || test_skip_all "$need is absent (Debian: apt-get install chromium chromium-driver python3-selenium)"
done
"$PY" -c 'import selenium' 2>/dev/null ||
	test_skip_all "python3-selenium is absent (Debian: apt-get install python3-selenium)"

test_expect_success 'setup: kb, a slow web source, a failing one and a streaming LLM' '
	ingest_fixture "$DB" && start_fakeup UP &&
	cat >cfg.json <<-JSON &&
	{"db": "$DB", "timeout_ms": 10000, "sources": [
	  {"name": "kb", "type": "kb"},
	  {"name": "slow", "type": "web", "url": "$UP_URL/@delay_ms=1500"},
	  {"name": "broken", "type": "web", "url": "$UP_URL/@mode=fail"}]}
	JSON
	validate config cfg.json &&
	start_ragd --config cfg.json --llm-url "$UP_URL/@token_delay_ms=100/v1" &&
	OPEN_URL=$RAGD_URL && OPEN_PID=$RAGD_PID && OPEN_LOG=$RAGD_LOG
'
test_expect_success 'setup: a second ragd, with API keys' '
	cat >keys.json <<-EOK &&
	{"keys": [{"name": "reader", "key": "b-read-5ecret-0123456789", "scopes": ["search"]},
	          {"name": "writer", "key": "b-write-5ecret-0123456789", "scopes": ["search", "write"]}]}
	EOK
	chmod 600 keys.json && start_ragd --db "$DB" --api-keys keys.json
'
# The browser's checks are numbered after the setup's.
KEYS_URL=$RAGD_URL READ_KEY=b-read-5ecret-0123456789 WRITE_KEY=b-write-5ecret-0123456789 \
	"$PY" "$SRCDIR/tests/browser/playground.py" --first $((test_count + 1)) "$OPEN_URL" "$OUT" \
	>browser.tap 2>browser.err
rc=$?
cat browser.tap
test_count=$((test_count + $(grep -Ec '^(not )?ok ' browser.tap)))
test_failed=$((test_failed + $(grep -c '^not ok ' browser.tap)))
test_expect_success 'the browser test ran to its end' '
	test $rc = 0 || { cat browser.err; false; }
'
test_expect_success 'both ragd stop cleanly' '
	stop_ragd && RAGD_PID=$OPEN_PID && RAGD_LOG=$OPEN_LOG && stop_ragd
'
test_done
