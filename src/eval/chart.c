/*
 * chart -- drawing chart.svg by hand: two panels of lines, boxes and text.
 *
 * A log x axis for recall@k because the interesting part (k = 1..10) would
 * be squeezed into a tenth of a linear axis.
 */
#include "eval/chart.h"

#include "eval/output.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_CHART_W 1000
#define EVAL_CHART_H 440
/* Left panel (recall) and right panel (latency) plot areas. */
#define EVAL_CHART_LX0 70.0
#define EVAL_CHART_LX1 470.0
#define EVAL_CHART_RX0 620.0
#define EVAL_CHART_RX1 960.0
#define EVAL_CHART_Y0 60.0
#define EVAL_CHART_Y1 380.0

static const char *const eval_chart_colors[] = {
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
};
#define EVAL_CHART_NCOLORS (sizeof eval_chart_colors / sizeof *eval_chart_colors)

static const char *eval_chart_color(size_t i)
{
    return eval_chart_colors[i % EVAL_CHART_NCOLORS];
}

/* Text with XML's special characters escaped. */
static void eval_chart_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static double eval_chart_kx(int k)
{
    return EVAL_CHART_LX0 + log10((double)k) / 2.0 * (EVAL_CHART_LX1 - EVAL_CHART_LX0);
}

static double eval_chart_ry(double r)
{
    return EVAL_CHART_Y1 - r * (EVAL_CHART_Y1 - EVAL_CHART_Y0);
}

static void eval_chart_recall_axes(FILE *f)
{
    static const int ticks[] = {1, 2, 5, 10, 20, 50, 100};

    for (size_t i = 0; i < sizeof ticks / sizeof *ticks; i++) {
        double x = eval_chart_kx(ticks[i]);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>\n",
                x, EVAL_CHART_Y0, x, EVAL_CHART_Y1);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>\n",
                x, EVAL_CHART_Y1 + 18, ticks[i]);
    }
    for (int i = 0; i <= 5; i++) {
        double y = eval_chart_ry(i / 5.0);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>\n",
                EVAL_CHART_LX0, y, EVAL_CHART_LX1, y);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>\n",
                EVAL_CHART_LX0 - 6, y + 4, i / 5.0);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">k (log scale)</text>\n",
            (EVAL_CHART_LX0 + EVAL_CHART_LX1) / 2, EVAL_CHART_Y1 + 40);
    fprintf(f, "<text x=\"20\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 20 %.1f)\">recall@k</text>\n",
            (EVAL_CHART_Y0 + EVAL_CHART_Y1) / 2, (EVAL_CHART_Y0 + EVAL_CHART_Y1) / 2);
    fprintf(f, "<text x=\"%.1f\" y=\"40\" text-anchor=\"middle\" class=\"title\">Recall@k, k = 1..100</text>\n",
            (EVAL_CHART_LX0 + EVAL_CHART_LX1) / 2);
}

/* The curves, and a legend in the lower right where curves rarely go. */
static void eval_chart_recall(FILE *f, const eval_session *s)
{
    eval_chart_recall_axes(f);
    for (size_t i = 0; i < s->nruns; i++) {
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
                eval_chart_color(i));
        for (int k = 1; k <= EVAL_CURVE_MAX; k++)
            fprintf(f, "%s%.1f,%.1f", k > 1 ? " " : "", eval_chart_kx(k),
                    eval_chart_ry(s->runs[i].mean.curve[k - 1]));
        fprintf(f, "\"/>\n");
        double y = EVAL_CHART_Y1 - 20.0 * (double)(s->nruns - i);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"4\" fill=\"%s\"/>\n",
                EVAL_CHART_LX1 - 150, y - 5, eval_chart_color(i));
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", EVAL_CHART_LX1 - 130, y);
        eval_chart_text(f, s->runs[i].name);
        fprintf(f, " (R@100 %.3f)</text>\n", s->runs[i].mean.recall100);
    }
}

static double eval_chart_max_latency(const eval_session *s)
{
    double m = 0;

    for (size_t i = 0; i < s->nruns; i++)
        if (s->runs[i].nlatency && s->runs[i].p99 > m)
            m = s->runs[i].p99;
    return m > 0 ? m * 1.1 : 1;
}

static void eval_chart_latency_axes(FILE *f, double max)
{
    for (int i = 0; i <= 4; i++) {
        double x = EVAL_CHART_RX0 + i / 4.0 * (EVAL_CHART_RX1 - EVAL_CHART_RX0);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>\n",
                x, EVAL_CHART_Y0, x, EVAL_CHART_Y1);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.3g</text>\n",
                x, EVAL_CHART_Y1 + 18, max * i / 4.0);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">latency (ms): box p50-p95, whisker to p99</text>\n",
            (EVAL_CHART_RX0 + EVAL_CHART_RX1) / 2, EVAL_CHART_Y1 + 40);
    fprintf(f, "<text x=\"%.1f\" y=\"40\" text-anchor=\"middle\" class=\"title\">Latency per run</text>\n",
            (EVAL_CHART_RX0 + EVAL_CHART_RX1) / 2);
}

/* One row per run: name, box p50..p95, whisker to p99, the three values. */
static void eval_chart_latency(FILE *f, const eval_session *s)
{
    double max = eval_chart_max_latency(s), w = EVAL_CHART_RX1 - EVAL_CHART_RX0;
    double row = (EVAL_CHART_Y1 - EVAL_CHART_Y0) / (double)(s->nruns ? s->nruns : 1);

    eval_chart_latency_axes(f, max);
    for (size_t i = 0; i < s->nruns; i++) {
        const eval_run *r = &s->runs[i];
        double y = EVAL_CHART_Y0 + row * ((double)i + 0.5);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", EVAL_CHART_RX0 - 8, y + 4);
        eval_chart_text(f, r->name);
        fprintf(f, "</text>\n");
        if (!r->nlatency)
            continue;
        double x50 = EVAL_CHART_RX0 + r->p50 / max * w, x95 = EVAL_CHART_RX0 + r->p95 / max * w;
        double x99 = EVAL_CHART_RX0 + r->p99 / max * w;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>\n",
                x95, y, x99, y, eval_chart_color(i));
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"16\" fill=\"%s\" fill-opacity=\"0.6\"/>\n",
                x50, y - 8, x95 - x50 > 1 ? x95 - x50 : 1, eval_chart_color(i));
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"small\">p50 %.1f, p95 %.1f, p99 %.1f</text>\n",
                EVAL_CHART_RX0 + 4, y + 22, r->p50, r->p95, r->p99);
    }
}

int eval_chart_write(const eval_session *s)
{
    char *path = eval_output_path(s->opt->out, "chart.svg");
    FILE *f = path ? fopen(path, "w") : NULL;
    int rc = -1;

    if (!f) {
        fprintf(stderr, "rag-eval: cannot create %s: %s\n", path ? path : "chart.svg",
                path ? strerror(errno) : "out of memory");
        goto fail;
    }
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n",
            EVAL_CHART_W, EVAL_CHART_H, EVAL_CHART_W, EVAL_CHART_H);
    fprintf(f, "<style>text{font-family:sans-serif;font-size:12px;fill:#222}"
               ".title{font-size:15px;font-weight:bold}.small{font-size:10px;fill:#555}"
               ".grid{stroke:#ddd;stroke-width:1}</style>\n");
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"%d\" y=\"18\" text-anchor=\"middle\" class=\"small\">", EVAL_CHART_W / 2);
    eval_chart_text(f, s->opt->dataset);
    fputs(" (", f);
    eval_chart_text(f, s->opt->split);
    fprintf(f, ", %zu queries), %s</text>\n", s->ds->nqueries, s->date);
    eval_chart_recall(f, s);
    eval_chart_latency(f, s);
    fprintf(f, "</svg>\n");
    if (ferror(f) | fclose(f))
        fprintf(stderr, "rag-eval: cannot write %s\n", path);
    else
        rc = 0;
fail:
    free(path);
    return rc;
}
