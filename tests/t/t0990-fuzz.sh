#!/bin/sh
# Fuzz targets (tests/fuzz/): build them with clang's libFuzzer, replay every
# seed input, then fuzz each target briefly.  Any sanitizer report, leak or
# broken check fails the step and leaves the input under the test folder.
# Skipped where clang or its libFuzzer runtime (Debian: clang,
# libclang-rt-14-dev) is missing.  FUZZ_SECONDS sets the time per target.
. "$SRCDIR/tests/t/lib.sh"
: "${BUILDDIR:?BUILDDIR must point at the build tree}"
FUZZ_CC=${FUZZ_CC:-clang}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
TARGETS="sreq_json sreq_query chat web_map httpjson sse kb_match config dataset"

printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >probe.c
"$FUZZ_CC" -fsanitize=fuzzer,address,undefined -o probe probe.c >probe.log 2>&1 ||
	test_skip_all "no $FUZZ_CC with libFuzzer (Debian: apt-get install clang libclang-rt-14-dev)"

# fuzz_flags TARGET: what a target needs beyond the common flags.
fuzz_flags() {
	case $1 in
	dataset) echo -close_fd_mask=2 ;; # the reader explains every bad file on stderr
	esac
}

# fuzz_run TARGET ARGS...: run the target, quietly; on failure show the report.
fuzz_run() {
	t=$1; shift
	"$BUILDDIR/tests/fuzz/fuzz_$t" $(fuzz_flags "$t") -timeout=10 -artifact_prefix="$TEST_DIR/$t-" \
		"$@" >"$TEST_DIR/$t.log" 2>&1 ||
		{ echo "fuzz_$t failed:"; tail -n 40 "$TEST_DIR/$t.log"; return 1; }
}

test_expect_success 'make fuzz builds every target' '
	${MAKE:-make} -s -C "$BUILDDIR" fuzz FUZZ_CC="$FUZZ_CC"
'
for t in $TARGETS; do
	test_expect_success "fuzz_$t replays its seed corpus" '
		fuzz_run $t -runs=0 "$SRCDIR/tests/fuzz/corpus/$t"
	'
done
for t in $TARGETS; do
	# a copy: libFuzzer adds what it finds to the corpus folder
	test_expect_success "fuzz_$t runs $FUZZ_SECONDS s without a finding" '
		mkdir -p "corpus/$t" && cp "$SRCDIR/tests/fuzz/corpus/$t/"* "corpus/$t/" &&
		fuzz_run $t -max_total_time="$FUZZ_SECONDS" "corpus/$t"
	'
done
test_done
