#!/bin/sh
# Replicas behind HAProxy on one PostgreSQL store, with real processes: a
# throwaway cluster (as a non-root user), three ragd replicas (vector and
# kb sources, both told of writes by LISTEN/NOTIFY alone), and HAProxy
# running the shipped deploy/haproxy.cfg with only its ports filled in.
# A document written through one replica is found through every one;
# SIGKILL of a replica under steady search load costs (at most) the
# requests it had in flight, which HAProxy retries elsewhere; the replica
# restarts, catches up and answers like the others, and no replica ever
# loads its whole index twice; with PostgreSQL stopped, searches go on from
# memory and writes get 503, and everything recovers when it returns.
. "$SRCDIR/tests/t/lib.sh"
command -v haproxy >/dev/null 2>&1 || test_skip_all "haproxy not installed (apt-get install haproxy)"
. "$SRCDIR/tests/t/pglib.sh"
trap 'pg_cleanup touch "$TEST_DIR/stop.load"' EXIT

# free_port: a TCP port nobody listens on now.
free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_replica N PORT: ragd replica N on PORT; sets RN_URL, RN_PID.
start_replica() {
	log=$TEST_DIR/replica$1.log
	rm -f "$log.out"
	"$RAGD" serve --config cfg.json --listen "127.0.0.1:$2" >"$log.out" 2>>"$log" &
	eval "R$1_PID=$!; R$1_URL=http://127.0.0.1:$2"
	started_pids="$started_pids $!"
	wait_for_line "$log.out" 'listening on' || { cat "$log"; return 1; }
}

# ready URL [STATUS]: /readyz answers 200 with STATUS (default ready).
ready() {
	[ "$(curl -s -o ready.json -w '%{http_code}' "$1/readyz")" = 200 ] &&
	[ "$(jq -r .status ready.json)" = "${2:-ready}" ]
}

# search URL QUERY: the ids of the top contexts, one line, in found.json.
search() {
	curl -s -m 10 -H 'Content-Type: application/json' \
		--data-binary "{\"query\": \"$2\", \"k\": 10, \"generate\": false}" "$1/search" >found.json &&
	jq -r '[.contexts[].id] | join(" ")' found.json
}

# found URL QUERY ID: a search through URL returns document ID.
found() {
	search "$1" "$2" | tr ' ' '\n' | grep -qx "$3"
}

# doc URL ID TEXT: POST one document through URL; prints the status.
doc() {
	curl -s -o post.json -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary "{\"documents\": [{\"id\": \"$2\", \"title\": \"$2\", \"text\": \"$3\"}]}" \
		"$1/documents"
}

# loads URL SOURCE: the replica's whole-index loads of SOURCE (vector, kb).
loads() {
	curl -s "$1/metrics" >m.txt &&
	"$PY" "$SRCDIR/tests/t/prom.py" m.txt value ragd_source_index_loads_total source="$2"
}

setup() {
	pg_init && ingest_fixture fx.db && "$RAGD" migrate --from fx.db --to "$URL" >/dev/null &&
	printf '{"store": "%s", "sources": [{"name": "vector", "type": "vector", "refresh_ms": 0},
		{"name": "kb", "type": "kb", "refresh_ms": 0}]}\n' "$URL" >cfg.json &&
	P1=$(free_port) && P2=$(free_port) && P3=$(free_port) && PH=$(free_port) &&
	start_replica 1 "$P1" && start_replica 2 "$P2" && start_replica 3 "$P3" &&
	wait_for "ready $R1_URL && ready $R2_URL && ready $R3_URL"
}

# The shipped config, only its ports changed: the frontend's and the three
# servers'.
start_haproxy() {
	sed -e "s/127.0.0.1:8080\$/127.0.0.1:$PH/" -e "s/127.0.0.1:8081 /127.0.0.1:$P1 /" \
		-e "s/127.0.0.1:8082 /127.0.0.1:$P2 /" -e "s/127.0.0.1:8083 /127.0.0.1:$P3 /" \
		"$SRCDIR/deploy/haproxy.cfg" >haproxy.cfg &&
	test "$(diff "$SRCDIR/deploy/haproxy.cfg" haproxy.cfg | grep -c '^>')" = 4 &&
	haproxy -c -q -f haproxy.cfg &&
	{ haproxy -db -f haproxy.cfg >haproxy.log 2>&1 & } &&
	H_PID=$! && started_pids="$started_pids $H_PID" && H_URL=http://127.0.0.1:$PH &&
	wait_for "found $H_URL volcano d07"
}

# served_by_all: searches through HAProxy reach all three replicas (each
# replica's request ids have their own prefix).
served_by_all() {
	for i in 1 2 3 4 5 6 7 8 9; do
		curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
			--data-binary '{"query": "volcano"}' "$H_URL/search" |
			sed -n 's/^[Xx]-[Rr]equest-[Ii]d: \([^-]*\)-.*/\1/p'
	done | sort -u >prefixes.txt
	test "$(wc -l <prefixes.txt)" = 3
}

written_through_one_found_through_all() {
	[ "$(doc "$R1_URL" rep1 'The numbat eats termites in the forests of Western Australia.')" = 202 ] &&
	for u in "$R1_URL" "$R2_URL" "$R3_URL" "$H_URL"; do
		wait_for "found $u 'numbat termites' rep1" 10 || return 1
	done
}

# load N: search through HAProxy until stop.load exists; one status per line
# in codes.N.
load() {
	while [ ! -f stop.load ]; do
		curl -s -o /dev/null -w '%{http_code}\n' -m 20 -H 'Content-Type: application/json' \
			--data-binary '{"query": "volcano lava", "k": 5, "generate": false}' \
			"$H_URL/search" >>"codes.$1"
	done
}
lines() { cat codes.* 2>/dev/null | wc -l; }

kill_one_under_load() {
	rm -f stop.load codes.* && { load 1 & } && l1=$! && { load 2 & } && l2=$! &&
	wait_for "test \$(lines) -ge 40" &&
	kill -KILL "$R2_PID" && { wait "$R2_PID" 2>/dev/null; true; } && n=$(lines) &&
	wait_for "test \$(lines) -ge $((n + 60))" &&
	touch stop.load && wait $l1 $l2 &&
	total=$(lines) && failed=$(grep -vcx 200 codes.1 codes.2 | awk -F: '{s += $2} END {print s}') &&
	say "SIGKILL under load: $total searches through HAProxy, $failed failed" &&
	test "$failed" -le 2
}

restarted_catches_up() {
	[ "$(doc "$R1_URL" rep2 'The bilby is a desert marsupial with long ears.')" = 202 ] &&
	wait_for "found $R3_URL 'bilby desert' rep2" 10 &&
	start_replica 2 "$P2" && wait_for "ready $R2_URL" &&
	wait_for "found $R2_URL 'bilby desert' rep2" 10 &&
	for q in volcano 'numbat termites' 'bilby desert marsupial' 'rank fusion'; do
		a=$(search "$R1_URL" "$q") && b=$(search "$R2_URL" "$q") && c=$(search "$R3_URL" "$q") &&
		[ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" = "$c" ] || { echo "$q: $a / $b / $c"; return 1; }
	done
}

one_load_each() {
	for u in "$R1_URL" "$R2_URL" "$R3_URL"; do
		for src in vector kb; do
			n=$(loads "$u" $src) && [ "$n" = 1 ] ||
				{ echo "$u loaded its $src index $n times"; return 1; }
		done
	done
}

database_away() {
	pg_stop &&
	wait_for "ready $R1_URL degraded && ready $R2_URL degraded && ready $R3_URL degraded" &&
	for i in 1 2 3 4 5 6; do
		found "$H_URL" 'numbat termites' rep1 || return 1
	done &&
	[ "$(doc "$H_URL" rep3 'The quoll is a spotted marsupial.')" = 503 ] &&
	jq -e '.error.code == "unavailable"' post.json >/dev/null
}

database_back() {
	pg_start &&
	wait_for "ready $R1_URL && ready $R2_URL && ready $R3_URL" &&
	[ "$(doc "$H_URL" rep3 'The quoll is a spotted marsupial.')" = 202 ] &&
	for u in "$R1_URL" "$R2_URL" "$R3_URL"; do
		wait_for "found $u 'quoll spotted' rep3" 10 || return 1
	done
}

stop_all() {
	kill -TERM "$H_PID" && wait "$H_PID" 2>/dev/null
	for n in 1 2 3; do
		eval "RAGD_PID=\$R${n}_PID; RAGD_LOG=$TEST_DIR/replica$n.log" && stop_ragd || return 1
	done
}

test_expect_success 'setup: PostgreSQL of its own, the fixture migrated, three replicas ready' 'setup'
test_expect_success 'HAProxy on the shipped config, only its ports filled in' 'start_haproxy'
test_expect_success 'HAProxy spreads searches over the three replicas' 'wait_for served_by_all'
test_expect_success 'written through one replica, found through all three and HAProxy' \
	'written_through_one_found_through_all'
test_expect_success 'SIGKILL of a replica under search load: HAProxy retries its requests' \
	'kill_one_under_load'
test_expect_success 'the killed replica restarts, catches up and answers like the others' \
	'restarted_catches_up'
test_expect_success 'every replica loaded its whole index once, at start' 'one_load_each'
test_expect_success 'PostgreSQL away: degraded, searches from memory, writes 503' 'database_away'
test_expect_success 'PostgreSQL back: ready, writes go through and reach every replica' 'database_back'
test_expect_success 'everything stops cleanly' 'stop_all'
test_done
