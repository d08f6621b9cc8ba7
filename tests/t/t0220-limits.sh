#!/bin/sh
# Limits on what clients control, and lifetimes at the edges: input sent
# while a search runs, trickled requests, the connection cap, running out of
# descriptors, answers slower than the idle timeout, admission control,
# backpressure on streams, number format, and shutdown while a worker job
# still holds a source instance.
. "$SRCDIR/tests/t/lib.sh"
DB=$TEST_DIR/l.db

# raw PYTHON-CODE: run python3 with a helper `conn()` that connects to ragd
# and `closed(s)`, true once ragd closed or reset the connection.
raw_prelude='
import socket, sys, time
def conn(rcvbuf=None):
    host, port = sys.argv[1].split(":")
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect((host, int(port)))
    return s
def closed(s, limit=60):
    s.settimeout(limit)
    try:
        while s.recv(65536):
            pass
        return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
'
raw() {
	"$PY" -c "$raw_prelude$1" "${RAGD_URL#http://}"
}
# raw_bg PYTHON-CODE: the same in the background; its pid in $raw_pid.
raw_bg() {
	( exec "$PY" -c "$raw_prelude$1" "${RAGD_URL#http://}" ) &
	raw_pid=$!
}

# log_count REGEX: lines of ragd's log matching REGEX.
log_count() {
	grep -Ec "$1" "$RAGD_LOG"
}

test_expect_success 'setup' '
	ingest_fixture "$DB" && start_fakeup UP
'

test_expect_success 'input sent while a search runs is capped: the connection is closed' '
	start_ragd --db "$DB" --web-url "$UP_URL/@mode=hang" --max-pending-input 65536 &&
	raw "
s = conn()
s.sendall(b\"GET /search?q=volcano&timeout_ms=60000&generate=false HTTP/1.1\r\nHost: x\r\n\r\n\")
junk = b\"x\" * 65536
sent = 0
try:
    while sent < (64 << 20):
        s.sendall(junk)
        sent += len(junk)
except (ConnectionResetError, BrokenPipeError):
    pass
assert sent < (64 << 20), \"ragd took 64 MiB of input\"
assert closed(s), \"still open\"
" &&
	wait_for "log_count \"sent more than 65536 bytes\" >/dev/null" &&
	wait_for "test \$(healthz live_searches) = 0" &&
	stop_ragd
'

test_expect_success 'a request trickled byte by byte is cut at the read deadline' '
	start_ragd --db "$DB" --read-timeout-ms 500 &&
	raw "
s = conn()
req = b\"GET /healthz HTTP/1.1\r\nX-Slow: \" + b\"a\" * 100
for i, b in enumerate(req):
    try:
        s.send(bytes([b]))
    except (ConnectionResetError, BrokenPipeError):
        break
    time.sleep(0.1)
else:
    sys.exit(\"the whole 10 s trickle was accepted\")
assert closed(s)
" &&
	grep -q "no whole request within 500 ms" "$RAGD_LOG" &&
	stop_ragd
'

test_expect_success 'at the connection cap, idle connections make room: /healthz answers' '
	start_ragd --db "$DB" --max-connections 8 &&
	raw "
idle = [conn() for _ in range(20)]
import urllib.request
for _ in range(3):
    body = urllib.request.urlopen(\"$RAGD_URL/healthz\", timeout=30).read()
    assert b\"ok\" in body
" &&
	grep -q "closing the longest idle one" "$RAGD_LOG" &&
	stop_ragd
'

test_expect_success 'out of descriptors: accepting pauses, the log is not flooded, service resumes' '
	(ulimit -n 48 && start_ragd --db "$DB" --workers 1 --max-connections 1000 &&
	 echo "$RAGD_PID $RAGD_URL $RAGD_LOG" >emfile.env && wait "$RAGD_PID") &
	wait_for "test -s emfile.env" && read RAGD_PID RAGD_URL RAGD_LOG <emfile.env &&
	raw "
held = []
for _ in range(80):
    held.append(conn())
time.sleep(1)  # hold them: ragd must not spin or log each refused accept
for s in held:
    s.close()
" &&
	n=$(log_count "accepting a connection failed") && say "$n accept-error lines" &&
	test "$n" -ge 1 && test "$n" -le 10 &&
	wait_for "curl -sf --max-time 5 $RAGD_URL/healthz >/dev/null" &&
	kill -TERM "$RAGD_PID" && wait_for "! kill -0 $RAGD_PID 2>/dev/null" &&
	no_sanitizer_report "$RAGD_LOG"
'

test_expect_success 'an answer slower than the idle timeout still arrives whole' '
	start_ragd --db "$DB" --idle-timeout-ms 300 --llm-url "$UP_URL/@delay_ms=3000/v1" &&
	test "$(post_search "{\"query\":\"volcano lava\",\"timeout_ms\":5000}")" = 200 &&
	test "$(jq -r .generation.status out.json)" = ok &&
	test "$(jq -r .answer out.json)" != null &&
	stop_ragd
'

test_expect_success 'past --max-inflight a search is answered 503 with Retry-After at once' '
	start_ragd --db "$DB" --web-url "$UP_URL/@mode=hang" --max-inflight 2 &&
	held="" && for i in 1 2; do
		post_search "{\"query\":\"volcano\",\"timeout_ms\":60000}" held$i.json >/dev/null &
		held="$held $!"; done &&
	wait_for "test \$(healthz live_searches) = 2" &&
	curl -s -D hdr.txt -o busy.json -H "Content-Type: application/json" \
		--data-binary "{\"query\":\"volcano\"}" "$RAGD_URL/search" >/dev/null &&
	grep -q "^HTTP/1.1 503" hdr.txt && grep -qi "^Retry-After: 1" hdr.txt &&
	test "$(jq -r .error.code busy.json)" = overloaded &&
	validate error busy.json &&
	fake_control "$UP_URL" "{\"release\":true}" && wait $held &&
	test "$(jq -r .sources.web.status held1.json)" = ok &&
	stop_ragd
'

test_expect_success 'a stream whose client stops reading is paused, then ended' '
	start_ragd --db "$DB" --llm-url "$UP_URL/@mode=huge/@huge_mb=2/v1" --max-sse-event 4194304 \
		--max-output 1024 --idle-timeout-ms 1000 &&
	raw_bg "
s = conn(rcvbuf=2048)
s.sendall(b\"POST /search HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\"
          b\"Content-Type: application/json\r\nContent-Length: 53\r\n\r\n\"
          b\"{\\\"query\\\":\\\"volcano lava magma eruption\\\",\\\"stream\\\":true}\")
time.sleep(60)  # and read nothing
" &&
	wait_for "grep -q \"read nothing of the stream for 500 ms\" \"$RAGD_LOG\""; rc=$?
	kill $raw_pid; wait $raw_pid
	test $rc = 0 && wait_for "test \$(healthz live_searches) = 0" && stop_ragd
'

test_expect_success '--max-k bounds k, and the error names the limit' '
	start_ragd --db "$DB" --max-k 5 &&
	test "$(post_search "{\"query\":\"volcano\",\"k\":6}")" = 400 &&
	test "$(jq -r .error.message out.json)" = "k: must be an integer from 1 to 5, got 6" &&
	test "$(post_search "{\"query\":\"volcano\",\"k\":5,\"generate\":false}")" = 200 &&
	test "$(post_search "{\"query\":\"volcano lava\",\"generate\":false}")" = 200 &&
	test "$(jq ".contexts | length" out.json)" = 5 &&
	stop_ragd
'

test_expect_success '--max-headers bounds the request line and the headers' '
	start_ragd --db "$DB" --max-headers 2048 &&
	long=$(head -c 3000 /dev/zero | tr "\\0" a) &&
	code=$(curl -s -o /dev/null -w "%{http_code}" -H "X-Long: $long" "$RAGD_URL/healthz") &&
	test "$code" -ge 400 && test "$code" -lt 500 &&
	code=$(curl -s -o /dev/null -w "%{http_code}" "$RAGD_URL/search?q=$long") &&
	test "$code" -ge 400 && test "$code" -lt 500 &&
	curl -sf "$RAGD_URL/healthz" >/dev/null &&
	stop_ragd
'

test_expect_success '--max-upstream-bytes bounds what a source may send' '
	start_ragd --db "$DB" --web-url "$UP_URL" --max-upstream-bytes 1024 &&
	test "$(post_search "{\"query\":\"volcano\",\"generate\":false}")" = 200 &&
	test "$(jq -r .sources.web.status out.json)" = error &&
	jq -r .sources.web.error out.json | grep -q "larger than 1024 bytes" &&
	stop_ragd
'

test_expect_success '--max-sse-event bounds one event of the LLM stream' '
	start_ragd --db "$DB" --llm-url "$UP_URL/@mode=huge/@huge_mb=1/v1" --max-sse-event 4096 &&
	curl -s -N -H "Accept: text/event-stream" -H "Content-Type: application/json" \
		--data-binary "{\"query\":\"volcano\",\"stream\":true}" "$RAGD_URL/search" >big.sse &&
	grep -q "larger than 4096 bytes" big.sse && grep -q "^event: done" big.sse &&
	stop_ragd
'

test_expect_success 'numbers print with at most 15 significant digits, in JSON and in events' '
	start_ragd --db "$DB" &&
	for i in 1 2 3 4 5; do post_search "{\"query\":\"volcano lava\"}" n$i.json >/dev/null; done &&
	curl -s -N -H "Accept: text/event-stream" --data-binary "{\"query\":\"volcano\"}" \
		-H "Content-Type: application/json" "$RAGD_URL/search" >n.sse &&
	"$PY" -c "
import re, sys
for f in sys.argv[1:]:
    for num in re.findall(r\"-?[0-9]+\\.[0-9]+\", open(f).read()):
        digits = num.lstrip(\"-\").replace(\".\", \"\").lstrip(\"0\")
        assert len(digits) <= 15, (f, num)
" n?.json n.sse &&
	stop_ragd
'

test_expect_success 'shutdown while a worker job holds a source: nothing freed under it' '
	cc -std=c11 -Wall -Wextra -Werror -shared -fPIC -I"$SRCDIR/include" \
		$(pkg-config --cflags jansson) -o busy.so "$SRCDIR/tests/plugins/busy.c" &&
	printf "{\"db\":\"%s\",\"sources\":[{\"name\":\"kb\",\"type\":\"kb\"},{\"name\":\"busy\",\"type\":\"%s\",\"marker\":\"%s\",\"block_ms\":10000}]}" \
		"$DB" "$TEST_DIR/busy.so" "$TEST_DIR/marker" >busy.json &&
	start_ragd --config busy.json &&
	test "$(post_search "{\"query\":\"volcano\",\"timeout_ms\":300}")" = 200 &&
	test "$(jq -r .sources.busy.status out.json)" = timeout &&
	wait_for "test -s marker" && test "$(cat marker)" = started &&
	stop_ragd &&
	test "$(cat marker)" = done &&
	grep -q "still waiting for 0 searches, 1 source calls and 1 worker jobs" "$RAGD_LOG"
'

test_done
