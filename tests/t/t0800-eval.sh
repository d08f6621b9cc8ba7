#!/bin/sh
# rag-eval end to end: score a real ragd on the small BEIR fixture
# (tests/data/beir-mini), check every output file, the compare gate and the
# input errors; and, when the SciFact copy is present, a sanity floor on its
# kb nDCG@10.
. "$SRCDIR/tests/t/lib.sh"
: "${RAGEVAL:?RAGEVAL must point at the rag-eval binary}"
MINI=$SRCDIR/tests/data/beir-mini
SCIFACT=${SCIFACT:-$SRCDIR/../shared/eval/scifact}
DB=$TEST_DIR/mini.db

# trec_ok FILE: 6 columns, Q0, ranks 1.. per query, strictly decreasing
# scores, no docno twice in a query.
trec_ok() {
	awk '
		NF != 6 || $2 != "Q0" { print FILENAME ":" NR ": bad line: " $0; bad = 1; exit }
		$1 != q { q = $1; want = 1; delete seen }
		$4 != want { print FILENAME ":" NR ": rank " $4 ", want " want; bad = 1; exit }
		want > 1 && $5 + 0 >= prev { print FILENAME ":" NR ": score not decreasing"; bad = 1; exit }
		$3 in seen { print FILENAME ":" NR ": duplicate " $3; bad = 1; exit }
		{ seen[$3] = 1; prev = $5 + 0; want++ }
		END { if (NR == 0) { print FILENAME ": empty"; bad = 1 } exit bad }
	' "$1"
}

# dataset NAME: a copy of the fixture to break, in $TEST_DIR/NAME.
dataset() {
	rm -rf "$TEST_DIR/$1" && cp -R "$MINI" "$TEST_DIR/$1"
}

test_expect_success 'setup: store from the fixture, ragd' '
	"$RAGD" ingest --db "$DB" "$MINI/corpus.jsonl" >/dev/null &&
	start_ragd --db "$DB"
'
test_expect_success 'run --ingest scores every source and the fused result' '
	"$RAGEVAL" run --dataset "$MINI" --url "$RAGD_URL" --out out --concurrency 4 \
		--ingest --db "$DB" --ragd "$RAGD" >run.out 2>run.err || { cat run.err; exit 1; } &&
	for f in report.json summary.md chart.svg runs/kb.trec runs/vector.trec runs/fused.trec; do
		test -s "out/$f" || { echo "missing out/$f"; exit 1; }
	done &&
	test ! -e out/runs/web.trec &&
	grep -q "^| fused |" out/summary.md
'
test_expect_success 'report.json is valid against the schema' '
	validate eval-report out/report.json &&
	test "$(jq ".dataset.queries" out/report.json)" = 6 &&
	test "$(jq -r ".runs | keys | join(\",\")" out/report.json)" = fused,kb,vector
'
test_expect_success 'nDCG@10 of fused and kb is in (0, 1]' '
	for r in fused kb; do
		jq -e ".runs.$r.metrics[\"ndcg@10\"] | . > 0 and . <= 1" out/report.json >/dev/null ||
		{ jq ".runs.$r" out/report.json; exit 1; }
	done
'
test_expect_success 'run files are well-formed TREC runs' '
	for r in fused kb vector; do trec_ok "out/runs/$r.trec" || exit 1; done &&
	test "$(cut -d" " -f1 out/runs/kb.trec | sort -u | wc -l)" = 6 &&
	awk "\$6 != \"fused\" { exit 1 }" out/runs/fused.trec
'
test_expect_success 'chart.svg is one self-contained SVG document' '
	"$PY" -c "import sys, xml.dom.minidom as m; m.parse(sys.argv[1])" out/chart.svg &&
	! grep -Eq "<script|xlink:href|@import|url\\(" out/chart.svg &&
	grep -q "recall@k" out/chart.svg
'
test_expect_success 'compare of a report with itself exits 0' '
	"$RAGEVAL" compare out/report.json out/report.json >cmp.out &&
	grep -q "no metric dropped" cmp.out
'
test_expect_success 'compare exits 1 and names the metric that dropped by 0.05' '
	jq ".runs.kb.metrics[\"ndcg@10\"] -= 0.05" out/report.json >worse.json &&
	{ "$RAGEVAL" compare out/report.json worse.json >cmp.out; test $? = 1; } &&
	grep -E "^kb +ndcg@10 .*-0\.0500 +DROP" cmp.out &&
	"$RAGEVAL" compare --max-drop 0.06 out/report.json worse.json >/dev/null
'
test_expect_success 'compare exits 2 on a file that is not a report' '
	echo "{}" >empty.json &&
	{ "$RAGEVAL" compare out/report.json empty.json 2>cmp.err; test $? = 2; } &&
	grep -q "empty.json" cmp.err
'
test_expect_success 'a malformed qrels line: exit 2 naming file:line' '
	dataset badq && printf "q1\tm01\n" >>badq/qrels/test.tsv &&
	{ "$RAGEVAL" run --dataset badq --url "$RAGD_URL" --out o2 2>err; test $? = 2; } &&
	grep -q "badq/qrels/test.tsv:15:" err
'
test_expect_success 'qrels naming an unknown query: exit 2 naming it' '
	dataset unkq && printf "nosuchq\tm01\t1\n" >>unkq/qrels/test.tsv &&
	{ "$RAGEVAL" run --dataset unkq --url "$RAGD_URL" --out o2 2>err; test $? = 2; } &&
	grep -q "1 query ids not in .*\"nosuchq\"" err
'
test_expect_success 'qrels naming unknown documents: exit 2 naming them and the count' '
	dataset unkd && printf "q1\tgone1\t1\nq2\tgone2\t1\n" >>unkd/qrels/test.tsv &&
	{ "$RAGEVAL" run --dataset unkd --url "$RAGD_URL" --out o2 2>err; test $? = 2; } &&
	grep -q "2 document ids not in .*\"gone1\", \"gone2\"" err
'
test_expect_success 'a malformed corpus or queries line: exit 2 naming file:line' '
	dataset badc && echo "{\"_id\": " >>badc/corpus.jsonl &&
	{ "$RAGEVAL" run --dataset badc --url "$RAGD_URL" --out o2 2>err; test $? = 2; } &&
	grep -q "badc/corpus.jsonl:16:" err &&
	dataset badqs && sed -i "2s/.*/{\"text\": \"no id\"}/" badqs/queries.jsonl &&
	{ "$RAGEVAL" run --dataset badqs --url "$RAGD_URL" --out o2 2>err; test $? = 2; } &&
	grep -q "badqs/queries.jsonl:2: missing string \"_id\"" err
'
test_expect_success 'a missing dataset file or split: exit 2 naming it' '
	dataset miss && rm miss/queries.jsonl &&
	{ "$RAGEVAL" run --dataset miss --url "$RAGD_URL" --out o2 2>err; test $? = 2; } &&
	grep -q "miss/queries.jsonl" err &&
	{ "$RAGEVAL" run --dataset "$MINI" --split dev --url "$RAGD_URL" --out o2 2>err; test $? = 2; } &&
	grep -q "qrels/dev.tsv" err
'
test_expect_success 'the train split runs its own queries' '
	"$RAGEVAL" run --dataset "$MINI" --split train --url "$RAGD_URL" --out o3 >/dev/null 2>&1 &&
	test "$(jq ".dataset.queries" o3/report.json)" = 2 &&
	test "$(cut -d" " -f1 o3/runs/fused.trec | sort -u | tr "\n" " ")" = "q7 q8 "
'
test_expect_success 'an unreachable --url: exit 2 naming it' '
	{ "$RAGEVAL" run --dataset "$MINI" --url http://127.0.0.1:1 --out o2 2>err; test $? = 2; } &&
	grep -q "http://127.0.0.1:1/search" err
'
test_expect_success '--help for both commands' '
	"$RAGEVAL" run --help | grep -q -- "--concurrency" &&
	"$RAGEVAL" compare --help | grep -q -- "--max-drop" &&
	{ "$RAGEVAL" run --k 0 --dataset x --url y 2>err; test $? = 2; }
'
if [ -f "$SCIFACT/corpus.jsonl" ]; then
	test_expect_success 'SciFact: kb nDCG@10 >= 0.60 (expected about 0.68)' '
		stop_ragd && "$RAGD" ingest --db sf.db "$SCIFACT/corpus.jsonl" >/dev/null &&
		start_ragd --db sf.db &&
		"$RAGEVAL" run --dataset "$SCIFACT" --url "$RAGD_URL" --concurrency 8 --out sf >sf.out 2>sf.err &&
		jq -e ".runs.kb.metrics[\"ndcg@10\"] >= 0.60" sf/report.json >/dev/null
	'
	for r in kb vector fused; do
		test -f sf/report.json && say "scifact $r: $(jq -c ".runs.$r.metrics" sf/report.json)"
	done
else
	test_skip 'SciFact: kb nDCG@10 >= 0.60' "SciFact not found at $SCIFACT (set SCIFACT)"
fi
test_expect_success 'ragd stops cleanly' '
	stop_ragd
'
test_done
