#!/bin/sh
# The ragd command line: help, version, and clear errors (exit 2) for
# unusable arguments.
. "$SRCDIR/tests/t/lib.sh"

test_expect_success '--help lists the commands and exits 0' '
	"$RAGD" --help >help.txt && grep -q "ingest" help.txt && grep -q "serve" help.txt
'
test_expect_success '--version prints the version' '
	"$RAGD" --version | grep -Eq "^ragd [0-9]+\.[0-9]+\.[0-9]+$"
'
test_expect_success 'no command: usage on stderr, exit 2' '
	"$RAGD" 2>err.txt; test $? -eq 2 && grep -q usage err.txt
'
test_expect_success 'unknown command: exit 2 naming it' '
	"$RAGD" frobnicate 2>err.txt; test $? -eq 2 && grep -q frobnicate err.txt
'
test_expect_success 'serve --help documents every flag' '
	"$RAGD" serve --help >h.txt &&
	for f in --db --listen --web-url --timeout-ms --config --workers --log-level; do
		grep -q -- "$f" h.txt || { echo "missing $f"; exit 1; }
	done
'
test_expect_success 'serve without --db: exit 2 naming --db' '
	"$RAGD" serve 2>err.txt; test $? -eq 2 && grep -q -- "--db" err.txt
'
test_expect_success 'serve with a missing database: exit 2 naming the file' '
	"$RAGD" serve --db "$TEST_DIR/nope.db" 2>err.txt; test $? -eq 2 && grep -q "nope.db" err.txt
'
test_expect_success 'serve with a bad --listen: exit 2 naming it' '
	ingest_fixture "$TEST_DIR/c.db" &&
	{ "$RAGD" serve --db "$TEST_DIR/c.db" --listen nonsense 2>err.txt; test $? -eq 2; } &&
	grep -q listen err.txt
'
test_expect_success 'serve with a bad --timeout-ms: exit 2 naming it' '
	"$RAGD" serve --db "$TEST_DIR/c.db" --timeout-ms 0 2>err.txt; test $? -eq 2 &&
	grep -q -- "--timeout-ms" err.txt
'
test_expect_success 'serve with an unknown flag: exit 2' '
	"$RAGD" serve --db "$TEST_DIR/c.db" --bogus 2>err.txt; test $? -eq 2 && grep -q bogus err.txt
'
test_expect_success 'serve on a port in use: exit 2 saying so' '
	start_ragd --db "$TEST_DIR/c.db" &&
	port=${RAGD_URL##*:} &&
	{ "$RAGD" serve --db "$TEST_DIR/c.db" --listen 127.0.0.1:$port 2>err.txt; test $? -eq 2; } &&
	grep -q "cannot listen" err.txt && stop_ragd
'
test_done
