#!/bin/sh
# An install operators can trust: make install places the man pages, the
# example config and the systemd unit; every flag of every --help is in the
# matching man page; the example config is valid and starts ragd; the unit
# passes systemd-analyze verify.
. "$SRCDIR/tests/t/lib.sh"
INST=$TEST_DIR/inst
DB=$TEST_DIR/i.db

# flags_of CMD...: the long and short options a --help output names.
flags_of() {
	"$@" --help | grep -oE '(^|[^A-Za-z0-9_-])--?[a-z][a-z0-9-]*' | sed 's/^[^-]*//' | sort -u
}

# man_has PAGE FLAG...: every FLAG is in the roff source of PAGE, where a
# dash is written \-.
man_has() {
	page=$1; shift
	sed 's/\\-/-/g' "$page" >page.txt
	for f in "$@"; do
		grep -qF -- "$f" page.txt || { echo "$f missing from $page"; return 1; }
	done
}

test_expect_success 'make install places man pages, unit and example config' '
	make -s -C "$BUILDDIR" install DESTDIR="$INST" >install.log 2>&1 &&
	PREFIX=$(sed -n "s/^prefix=//p" "$BUILDDIR/ragd-source.pc") &&
	test -f "$INST$PREFIX/share/man/man1/ragd.1" &&
	test -f "$INST$PREFIX/share/man/man1/rag-eval.1" &&
	test -f "$INST$PREFIX/lib/systemd/system/ragd.service" &&
	test -f "$INST$PREFIX/lib/systemd/system/ragd@.service" &&
	test "$(find "$INST" -path "*/ragd/ragd.json.example" | wc -l)" = 1
'
test_expect_success 'the unit runs the installed ragd with the installed config' '
	unit=$INST$PREFIX/lib/systemd/system/ragd.service &&
	exe=$(sed -n "s/^ExecStart=\\([^ ]*\\) serve --config \\([^ ]*\\)$/\\1/p" "$unit") &&
	cfg=$(sed -n "s/^ExecStart=\\([^ ]*\\) serve --config \\([^ ]*\\)$/\\2/p" "$unit") &&
	test -x "$INST$exe" && test -f "$INST$(dirname "$cfg")/ragd.json.example" &&
	! grep -q "@[a-z]*@" "$unit"
'
test_expect_success 'the unit is sandboxed' '
	for opt in Type=exec DynamicUser=yes StateDirectory=ragd ProtectSystem=strict ProtectHome=yes \
		NoNewPrivileges=yes PrivateTmp=yes PrivateDevices=yes \
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" SystemCallFilter=@system-service; do
		grep -qx "$opt" "$unit" || { echo "no $opt"; return 1; }
	done &&
	grep -qx "ExecReload=/bin/kill -HUP \$MAINPID" "$unit"
'
if command -v systemd-analyze >/dev/null 2>&1; then
# verify_unit FILE: systemd-analyze verify passes FILE without a word
# about it (a value it cannot parse is only a warning, exit status 0).
verify_unit() {
	systemd-analyze verify --man=no "$1" >verify.txt 2>&1; rc=$?
	cat verify.txt; test $rc = 0 && ! grep -qF "$(basename "$1")" verify.txt
}
test_expect_success 'the unit passes systemd-analyze verify' '
	mkdir -p unit bad && sed "s|^ExecStart=$PREFIX|ExecStart=$INST$PREFIX|" "$unit" >unit/ragd.service &&
	verify_unit unit/ragd.service
'
test_expect_success 'systemd-analyze verify would see a bad value' '
	sed "s/^ProtectHome=yes/ProtectHome=bogus/" unit/ragd.service >bad/ragd.service &&
	! verify_unit bad/ragd.service
'
test_expect_success 'the replica template unit passes systemd-analyze verify as ragd@8081' '
	sed "s|^ExecStart=$PREFIX|ExecStart=$INST$PREFIX|" \
		"$INST$PREFIX/lib/systemd/system/ragd@.service" >unit/ragd@8081.service &&
	grep -q "^ExecStart=.* --listen 127.0.0.1:%i$" unit/ragd@8081.service &&
	verify_unit unit/ragd@8081.service
'
else
test_skip 'the unit passes systemd-analyze verify' 'systemd-analyze is not installed'
fi
if command -v haproxy >/dev/null 2>&1; then
test_expect_success 'deploy/haproxy.cfg is valid with its ports filled in' '
	sed "s/127.0.0.1:808\([0-3]\)/127.0.0.1:1808\1/" "$SRCDIR/deploy/haproxy.cfg" >h.cfg &&
	! cmp -s h.cfg "$SRCDIR/deploy/haproxy.cfg" &&
	haproxy -c -f h.cfg &&
	grep -q "uri /readyz" h.cfg && grep -q "^ *retry-on " h.cfg
'
else
test_skip 'deploy/haproxy.cfg is valid' 'haproxy is not installed'
fi
test_expect_success 'every flag of ragd --help and ragd serve --help is in ragd(1)' '
	man_has "$SRCDIR/man/ragd.1" $(flags_of "$RAGD") $(flags_of "$RAGD" serve) &&
	test "$(flags_of "$RAGD" serve | wc -l)" -gt 30
'
test_expect_success 'every flag of ragd ingest --help and ragd delete --help is in ragd(1)' '
	man_has "$SRCDIR/man/ragd.1" $(flags_of "$RAGD" ingest) $(flags_of "$RAGD" delete) \
		$(flags_of "$RAGD" migrate) &&
	flags_of "$RAGD" ingest | grep -qx -- --migrate && flags_of "$RAGD" delete | grep -qx -- --db
'
test_expect_success 'every flag of rag-eval --help, run and compare is in rag-eval(1)' '
	man_has "$SRCDIR/man/rag-eval.1" $(flags_of "$RAGEVAL") $(flags_of "$RAGEVAL" run) \
		$(flags_of "$RAGEVAL" compare) &&
	flags_of "$RAGEVAL" run | grep -qx -- --concurrency
'
test_expect_success 'a flag missing from a man page is found' '
	! man_has "$SRCDIR/man/ragd.1" --no-such-flag-here
'
test_expect_success 'the example config is valid and starts ragd' '
	validate config "$SRCDIR/etc/ragd.json.example" &&
	ingest_fixture "$DB" &&
	jq --arg db "$DB" ".db = \$db" "$SRCDIR/etc/ragd.json.example" >cfg.json &&
	start_ragd --config cfg.json &&
	test "$(post_search "{\"query\":\"volcano\"}")" = 200 &&
	stop_ragd
'
test_done
