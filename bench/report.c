/* SPDX-License-Identifier: MIT */
/*
 * report.c - turns the runs of each workload into a markdown table (stdout,
 * and report.md under --out), CSV (summary.csv: one row per configuration
 * and metric; runs.csv: one row per run) and the data the plots are drawn
 * from (bench/plot.sh).  It closes with the targets of issue 3, each marked
 * met or missed from this run's numbers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include <ringpool.h>

#include "bench.h"

static FILE *md, *summary_csv, *runs_csv;
static const struct config *rcfg;
static bool write_failed;

/* What the targets are judged on, collected as the workloads go by. */
static struct {
	double w1ext_rp, w1ext_best_peer;	/* median wall, ms */
	char w1ext_best_name[40];
	double w1fan_rp, w1fan_tbb;		/* median wall, ms */
	double w2_p50, w2_p99;			/* ringpool medians, µs */
	double idle_cpu;			/* ringpool median, % of a core */
	double w3_ratio, w4_ms, w5_peak, w5_ratio;
	bool w4_deadlock;
} tg = { .w1ext_rp = NAN, .w1ext_best_peer = NAN, .w1fan_rp = NAN, .w1fan_tbb = NAN,
	 .w2_p50 = NAN, .w2_p99 = NAN, .idle_cpu = NAN, .w3_ratio = NAN, .w4_ms = NAN,
	 .w5_peak = NAN, .w5_ratio = NAN };

/* Print to stdout and to report.md. */
static __attribute__((format(printf, 1, 2))) void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (md != NULL) {
		va_start(ap, fmt);
		vfprintf(md, fmt, ap);
		va_end(ap);
	}
}

static FILE *open_out(const char *name)
{
	char path[4096];
	FILE *f;

	if (rcfg->out_dir == NULL)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", rcfg->out_dir, name);
	if ((f = fopen(path, "w")) == NULL) {
		fprintf(stderr, "rpbench: %s: %s\n", path, strerror(errno));
		write_failed = true;
	}
	return f;
}

static void close_out(FILE *f)
{
	if (f != NULL && (ferror(f) | fclose(f)) != 0)
		write_failed = true;
}

static void cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];

	snprintf(buf, len, "unknown CPU");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = strchr(line, ':');
		if (strncmp(line, "model name", 10) == 0 && p != NULL) {
			snprintf(buf, len, "%s", p + 2);
			buf[strcspn(buf, "\n")] = '\0';
			break;
		}
	}
	fclose(f);
}

void report_begin(const struct config *cfg, const char *skipped)
{
	struct utsname u;
	char cpu[128], date[32];
	time_t now = time(NULL);

	rcfg = cfg;
	md = open_out("report.md");
	summary_csv = open_out("summary.csv");
	runs_csv = open_out("runs.csv");
	if (summary_csv != NULL)
		fprintf(summary_csv, "workload,config,peer,threads,hints,metric,unit,runs,ok,"
				     "deadlocked,median,min,max,ratio_vs_ringpool,cpu_ms,"
				     "ctxsw_voluntary,ctxsw_involuntary,peak_threads\n");
	if (runs_csv != NULL)
		fprintf(runs_csv, "workload,config,rep,status,error,v0,v1,v2,v3,cpu_ms,"
				  "ctxsw_voluntary,ctxsw_involuntary,peak_threads,done,total\n");

	if (uname(&u) != 0)
		memset(&u, 0, sizeof(u));
	cpu_model(cpu, sizeof(cpu));
	strftime(date, sizeof(date), "%Y-%m-%d", gmtime(&now));
	out("# rpbench --%s, %s\n\n", cfg->mode, date);
	out("%u CPUs usable (%s); %s %s %s. %u repetitions, configurations interleaved, "
	    "each run in a fresh process. CPU work calibrated at %.0f loop iterations per µs.\n\n",
	    cfg->cores, cpu, u.sysname, u.release, u.machine, cfg->reps, cfg->iters_per_us);
	out("| peer | what it is |\n|---|---|\n");
	for (unsigned p = 0; p < cfg->npeers; p++)
		out("| %s | %s |\n", cfg->peers[p]->name, cfg->peers[p]->about);
	if (skipped[0] != '\0')
		out("\nNot run: %s.\n", skipped);
	out("\nCells: median (min–max) over repetitions. *vs ringpool*: median over "
	    "repetitions of this row's first metric divided by ringpool's (defaults, no "
	    "hints) in the same repetition; below 1 means lower than ringpool. "
	    "*CPU*, *ctx switches* (voluntary+involuntary, getrusage) and *peak threads* "
	    "are medians for the measured window.\n");
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Median of @v[0..n), NAN if n == 0; sorts @v. */
static double median(double *v, unsigned n)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Enough digits to compare, no more: 1234567, 123.4, 12.34, 1.23, 7. */
static void fmt_num(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else if (v == floor(v) || fabs(v) >= 1000)
		snprintf(buf, len, "%.0f", v);
	else if (fabs(v) >= 100)
		snprintf(buf, len, "%.1f", v);
	else
		snprintf(buf, len, "%.2f", v);
}

static void csv_num(FILE *f, double v)
{
	if (isnan(v))
		fputc(',', f);
	else
		fprintf(f, ",%.6g", v);
}

/* Summary of one configuration's runs. */
struct cell {
	unsigned ok, deadlocked, slow, failed;
	double med[MAX_METRICS], lo[MAX_METRICS], hi[MAX_METRICS];
	double ratio;				/* metric 0, vs ringpool */
	double cpu_ms, nvcsw, nivcsw, peak;
	double done;				/* median tasks done in deadlocked runs */
	unsigned long total;
};

static const struct result *run_at(const struct run_table *t, unsigned rep, unsigned var)
{
	return &t->res[(size_t)rep * t->nvars + var];
}

/* The configuration ratios are taken against: ringpool, defaults, no hints. */
static int reference(const struct run_table *t)
{
	for (unsigned i = 0; i < t->nvars; i++)
		if (strcmp(t->vars[i].peer->name, "ringpool") == 0 && !t->vars[i].hints)
			return (int)i;
	return -1;
}

static void summarize(const struct run_table *t, unsigned var, struct cell *c)
{
	unsigned reps = t->cfg->reps, n;
	double s[MAX_REPS];
	int ref = reference(t);

	memset(c, 0, sizeof(*c));
	for (unsigned r = 0; r < reps; r++) {
		const struct result *res = run_at(t, r, var);
		c->ok += res->status == RUN_OK;
		c->deadlocked += res->status == RUN_DEADLOCK;
		c->slow += res->status == RUN_TIMEOUT;
		c->failed += res->status == RUN_FAILED;
		if (res->total > c->total)
			c->total = res->total;
	}
#define COLLECT(expr, cond)                                            \
	do {                                                           \
		n = 0;                                                 \
		for (unsigned r = 0; r < reps; r++) {                  \
			const struct result *res = run_at(t, r, var);  \
			if (cond)                                      \
				s[n++] = (expr);                       \
		}                                                      \
	} while (0)
	for (unsigned m = 0; m < t->wl->nmetrics; m++) {
		COLLECT(res->v[m], res->status == RUN_OK);
		c->med[m] = median(s, n);
		c->lo[m] = n ? s[0] : NAN;
		c->hi[m] = n ? s[n - 1] : NAN;
	}
	COLLECT(res->cpu_ms, res->status == RUN_OK);
	c->cpu_ms = median(s, n);
	COLLECT((double)res->nvcsw, res->status == RUN_OK);
	c->nvcsw = median(s, n);
	COLLECT((double)res->nivcsw, res->status == RUN_OK);
	c->nivcsw = median(s, n);
	/* Peak threads is known for a killed run too: the parent sampled it. */
	COLLECT((double)res->peak_threads, res->status == RUN_OK || res->status == RUN_DEADLOCK);
	c->peak = median(s, n);
	COLLECT((double)res->done, res->status == RUN_DEADLOCK);
	c->done = median(s, n);
	c->ratio = NAN;
	if (ref >= 0) {
		COLLECT(res->v[0] / run_at(t, r, (unsigned)ref)->v[0],
			res->status == RUN_OK && run_at(t, r, (unsigned)ref)->status == RUN_OK &&
				run_at(t, r, (unsigned)ref)->v[0] != 0);
		c->ratio = median(s, n);
	}
#undef COLLECT
}

static const char *status_name(enum run_status s)
{
	switch (s) {
	case RUN_OK:
		return "ok";
	case RUN_DEADLOCK:
		return "deadlock";
	case RUN_TIMEOUT:
		return "timeout";
	case RUN_FAILED:
		break;
	}
	return "failed";
}

static void write_runs_csv(const struct run_table *t)
{
	if (runs_csv == NULL)
		return;
	for (unsigned r = 0; r < t->cfg->reps; r++) {
		for (unsigned i = 0; i < t->nvars; i++) {
			const struct result *res = run_at(t, r, i);
			fprintf(runs_csv, "%s,%s,%u,%s,%d", t->wl->name, t->vars[i].label, r + 1,
				status_name(res->status), res->err);
			for (unsigned m = 0; m < MAX_METRICS; m++)
				csv_num(runs_csv, m < t->wl->nmetrics && res->status == RUN_OK ?
							  res->v[m] : NAN);
			fprintf(runs_csv, ",%.3f,%ld,%ld,%u,%lu,%lu\n", res->cpu_ms, res->nvcsw,
				res->nivcsw, res->peak_threads, res->done, res->total);
		}
	}
}

/*
 * W2's latency CDF, one block per configuration (gnuplot "index"): every
 * run's latencies pooled, thinned to about 2000 points with the tail kept
 * whole, as the tail is what the plot is for.
 */
static void write_w2_cdf(const struct run_table *t)
{
	FILE *f = open_out("w2_cdf.dat");

	if (f == NULL)
		return;
	for (unsigned i = 0; i < t->nvars; i++) {
		size_t n = 0;
		for (unsigned r = 0; r < t->cfg->reps; r++)
			n += t->nsamples[(size_t)r * t->nvars + i];
		uint64_t *all = malloc((n ? n : 1) * sizeof(*all));
		if (all == NULL)
			continue;
		n = 0;
		for (unsigned r = 0; r < t->cfg->reps; r++) {
			size_t k = (size_t)r * t->nvars + i;
			memcpy(all + n, t->samples[k], t->nsamples[k] * sizeof(*all));
			n += t->nsamples[k];
		}
		qsort(all, n, sizeof(*all), cmp_u64);
		fprintf(f, "\"%s\" \"fraction\"\n", t->vars[i].label);
		size_t step = n / 2000 + 1, tail = n > 1000 ? n - 1000 : 0;
		for (size_t j = 0; j < n; j++)
			if (j % step == 0 || j >= tail)
				fprintf(f, "%.3f %.6f\n", (double)all[j] / NSEC_PER_USEC,
					(double)(j + 1) / (double)n);
		fprintf(f, "\n\n");
		free(all);
	}
	close_out(f);
}

/*
 * W5's "tasks computing over time" for the run with the median makespan of
 * each configuration: a step function from the tasks' start and end times.
 */
static void write_w5_timeline(const struct run_table *t)
{
	FILE *f = open_out("w5_timeline.dat");

	if (f == NULL)
		return;
	for (unsigned i = 0; i < t->nvars; i++) {
		double spans[MAX_REPS];
		unsigned n = 0;
		int pick = -1;

		for (unsigned r = 0; r < t->cfg->reps; r++)
			if (run_at(t, r, i)->status == RUN_OK && t->nsamples[(size_t)r * t->nvars + i])
				spans[n++] = run_at(t, r, i)->v[0];
		double med = median(spans, n);
		for (unsigned r = 0; r < t->cfg->reps && pick < 0; r++)
			if (run_at(t, r, i)->status == RUN_OK && t->nsamples[(size_t)r * t->nvars + i] &&
			    run_at(t, r, i)->v[0] >= med)
				pick = (int)r;
		fprintf(f, "\"%s\" \"computing\"\n", t->vars[i].label);
		if (pick >= 0) {
			size_t k = (size_t)pick * t->nvars + i, ne = t->nsamples[k];
			/* Events: +1 at a start, -1 at an end, in time order. */
			int64_t *ev = malloc(ne * sizeof(*ev));
			if (ev != NULL) {
				for (size_t j = 0; j < ne; j++) {
					int64_t ts = (int64_t)t->samples[k][j];
					ev[j] = j % 2 == 0 ? ts * 2 + 1 : ts * 2;	/* ends sort first */
				}
				qsort(ev, ne, sizeof(*ev), cmp_u64);
				int level = 0;
				fprintf(f, "0 0\n");
				for (size_t j = 0; j < ne; j++) {
					level += (ev[j] & 1) ? 1 : -1;
					fprintf(f, "%.4f %d\n", (double)(ev[j] >> 1) / NSEC_PER_MSEC, level);
				}
				free(ev);
			}
		}
		fprintf(f, "\n\n");
	}
	close_out(f);
}

/* Makespan bars for W3 and W4: label, median, min, max (NaN for a deadlock). */
static void write_bars(const struct run_table *t, const struct cell *cells)
{
	char name[32];

	snprintf(name, sizeof(name), "%s_makespan.dat", t->wl->name);
	for (char *p = name; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	FILE *f = open_out(name);
	if (f == NULL)
		return;
	fprintf(f, "# config median_ms min_ms max_ms deadlocked_runs runs\n");
	for (unsigned i = 0; i < t->nvars; i++) {
		const struct cell *c = &cells[i];
		fprintf(f, "\"%s\" %.3f %.3f %.3f %u %u\n", t->vars[i].label,
			c->ok ? c->med[0] : NAN, c->ok ? c->lo[0] : NAN, c->ok ? c->hi[0] : NAN,
			c->deadlocked, t->cfg->reps);
	}
	close_out(f);
}

/* Feed the targets table from the rows it is judged on. */
static void note_targets(const struct run_table *t, const struct cell *cells)
{
	const char *wl = t->wl->name;

	for (unsigned i = 0; i < t->nvars; i++) {
		const struct variant *v = &t->vars[i];
		const struct cell *c = &cells[i];
		bool rp = strcmp(v->peer->name, "ringpool") == 0;

		if (rp && v->threads != 0)
			continue;	/* --threads: not ringpool on defaults */
		if (strcmp(wl, "W1ext") == 0) {
			if (rp)
				tg.w1ext_rp = c->med[0];
			else if (c->ok && !(tg.w1ext_best_peer <= c->med[0])) {
				tg.w1ext_best_peer = c->med[0];
				snprintf(tg.w1ext_best_name, sizeof(tg.w1ext_best_name), "%s", v->label);
			}
		} else if (strcmp(wl, "W1fan") == 0) {
			if (rp)
				tg.w1fan_rp = c->med[0];
			else if (strcmp(v->peer->name, "tbb") == 0)
				tg.w1fan_tbb = c->med[0];
		} else if (rp && !v->hints) {
			if (strcmp(wl, "W2") == 0) {
				tg.w2_p50 = c->med[0];
				tg.w2_p99 = c->med[1];
			} else if (strcmp(wl, "idle") == 0) {
				tg.idle_cpu = c->med[0];
			} else if (strcmp(wl, "W3") == 0) {
				tg.w3_ratio = c->med[1];
			} else if (strcmp(wl, "W4") == 0) {
				tg.w4_ms = c->med[0];
				tg.w4_deadlock = c->deadlocked > 0;
			}
		} else if (rp && strcmp(wl, "W5") == 0) {
			tg.w5_peak = c->med[2];
			tg.w5_ratio = c->med[1];
		}
	}
}

void report_workload(const struct run_table *t)
{
	const struct workload *wl = t->wl;
	struct cell *cells = calloc(t->nvars, sizeof(*cells));
	char buf[4][32];

	if (cells == NULL)
		return;
	for (unsigned i = 0; i < t->nvars; i++)
		summarize(t, i, &cells[i]);

	out("\n## %s: %s\n\n", wl->name, wl->title);
	if (wl->ideal != NULL)
		out("Ideal (total CPU work ÷ %u cores): %.2f ms.\n\n", t->cfg->cores,
		    wl->ideal(t->cfg));
	out("| configuration |");
	for (unsigned m = 0; m < wl->nmetrics; m++)
		out(" %s (%s) |", wl->metrics[m].name, wl->metrics[m].unit);
	out(" vs ringpool | CPU (ms) | ctx switches | peak threads |\n|---|");
	for (unsigned m = 0; m < wl->nmetrics + 4; m++)
		out("--:|");
	out("\n");

	for (unsigned i = 0; i < t->nvars; i++) {
		const struct cell *c = &cells[i];
		out("| %s |", t->vars[i].label);
		for (unsigned m = 0; m < wl->nmetrics; m++) {
			if (c->ok == 0 && m == 0 && c->deadlocked > 0) {
				out(" **deadlock** (%u of %u runs; %.0f of %lu tasks done) |",
				    c->deadlocked, t->cfg->reps, c->done, c->total);
			} else if (c->ok == 0 && m == 0 && c->slow > 0) {
				out(" **too slow**: stopped after %.0f s (%u of %u runs) |",
				    (double)run_limit_ns(wl, t->cfg) / NSEC_PER_SEC, c->slow,
				    t->cfg->reps);
			} else if (c->ok == 0) {
				out(" %s |", m == 0 ? "failed" : "-");
			} else {
				fmt_num(buf[0], sizeof(buf[0]), c->med[m]);
				fmt_num(buf[1], sizeof(buf[1]), c->lo[m]);
				fmt_num(buf[2], sizeof(buf[2]), c->hi[m]);
				if (c->ok > 1)
					out(" %s (%s–%s)", buf[0], buf[1], buf[2]);
				else
					out(" %s", buf[0]);
				if (m == 0 && c->ok < t->cfg->reps)
					out(" [%u of %u runs %s]", t->cfg->reps - c->ok, t->cfg->reps,
					    c->deadlocked ? "deadlocked" : c->slow ? "too slow" : "failed");
				out(" |");
			}
		}
		if (isnan(c->ratio))
			snprintf(buf[0], sizeof(buf[0]), "-");
		else
			snprintf(buf[0], sizeof(buf[0]), "%.2f", c->ratio);
		fmt_num(buf[1], sizeof(buf[1]), c->cpu_ms);
		fmt_num(buf[2], sizeof(buf[2]), c->peak);
		if (c->ok)
			out(" %s | %s | %.0f+%.0f | %s |\n", buf[0], buf[1], c->nvcsw, c->nivcsw,
			    buf[2]);
		else
			out(" - | - | - | %s |\n", buf[2]);

		if (summary_csv == NULL)
			continue;
		for (unsigned m = 0; m < wl->nmetrics; m++) {
			fprintf(summary_csv, "%s,%s,%s,%u,%d,%s,%s,%u,%u,%u", wl->name,
				t->vars[i].label, t->vars[i].peer->name, t->vars[i].threads,
				t->vars[i].hints, wl->metrics[m].name, wl->metrics[m].unit,
				t->cfg->reps, c->ok, c->deadlocked);
			csv_num(summary_csv, c->med[m]);
			csv_num(summary_csv, c->lo[m]);
			csv_num(summary_csv, c->hi[m]);
			csv_num(summary_csv, m == 0 ? c->ratio : NAN);
			csv_num(summary_csv, c->cpu_ms);
			csv_num(summary_csv, c->nvcsw);
			csv_num(summary_csv, c->nivcsw);
			csv_num(summary_csv, c->peak);
			fputc('\n', summary_csv);
		}
	}
	if (wl->deadlock_possible)
		out("\nDeadlock: no task finished and the process used no CPU for %.1f s (every "
		    "thread asleep, each waiting for work queued behind it), or the run was still "
		    "going after %llu s.\n", (double)t->cfg->stall_ns / NSEC_PER_SEC,
		    (unsigned long long)(wl->limit_ns / NSEC_PER_SEC));

	write_runs_csv(t);
	if (strcmp(wl->name, "W2") == 0)
		write_w2_cdf(t);
	else if (strcmp(wl->name, "W5") == 0)
		write_w5_timeline(t);
	if (strcmp(wl->name, "W3") == 0 || strcmp(wl->name, "W4") == 0)
		write_bars(t, cells);
	note_targets(t, cells);
	free(cells);
}

/* One line of the targets table; nothing when the workload did not run. */
static void target(const char *what, double value, const char *fmt_value, bool met)
{
	if (isnan(value))
		return;
	out("| %s | %s | %s |\n", what, fmt_value, met ? "met" : "**missed**");
}

/* The concurrency ringpool picks on this machine (its default C).  Creating
 * a pool starts no thread, so the parent stays single-threaded. */
static unsigned ringpool_concurrency(void)
{
	struct rp_stats st;
	rp_pool *pool;
	unsigned c = 0;

	if (rp_pool_create(&pool, NULL) == 0) {
		if (rp_pool_stats(pool, &st) == 0)
			c = st.concurrency;
		rp_pool_destroy(pool);
	}
	return c;
}

int report_end(void)
{
	char v[96];

	/* No workload of issue 3's ran (W9 alone, say): no table to head. */
	bool any = !isnan(tg.w1ext_rp) || !isnan(tg.w1fan_rp) || !isnan(tg.w2_p50) ||
		   !isnan(tg.idle_cpu) || !isnan(tg.w3_ratio) || !isnan(tg.w4_ms) ||
		   tg.w4_deadlock || !isnan(tg.w5_peak) || !isnan(tg.w5_ratio);
	if (!any)
		goto close;
	out("\n## Targets (issue 3; ringpool on defaults)\n\n| target | this run | |\n|---|---|---|\n");
	if (!isnan(tg.w1ext_rp) && !isnan(tg.w1ext_best_peer)) {
		snprintf(v, sizeof(v), "%.1f ms vs %.1f ms (%s): %.2f×", tg.w1ext_rp,
			 tg.w1ext_best_peer, tg.w1ext_best_name, tg.w1ext_rp / tg.w1ext_best_peer);
		target("W1ext ≤ 1/3 of the best peer's time", tg.w1ext_rp, v,
		       tg.w1ext_rp * 3 <= tg.w1ext_best_peer);
	}
	if (!isnan(tg.w1fan_tbb)) {
		snprintf(v, sizeof(v), "%.1f ms vs TBB %.1f ms: %.2f× TBB's speed", tg.w1fan_rp,
			 tg.w1fan_tbb, tg.w1fan_tbb / tg.w1fan_rp);
		target("W1fan ≥ 0.7× TBB's speed", tg.w1fan_rp, v,
		       tg.w1fan_tbb / tg.w1fan_rp >= 0.7);
	}
	snprintf(v, sizeof(v), "%.2f µs", tg.w2_p50);
	target("W2 p50 ≤ 11 µs", tg.w2_p50, v, tg.w2_p50 <= 11);
	snprintf(v, sizeof(v), "%.2f µs", tg.w2_p99);
	target("W2 p99 ≤ 40 µs", tg.w2_p99, v, tg.w2_p99 <= 40);
	snprintf(v, sizeof(v), "%.3f%% of a core", tg.idle_cpu);
	target("idle < 1% of a core", tg.idle_cpu, v, tg.idle_cpu < 1);
	snprintf(v, sizeof(v), "%.2f× ideal", tg.w3_ratio);
	target("W3 within 10% of ideal, no hints", tg.w3_ratio, v, tg.w3_ratio <= 1.10);
	if (tg.w4_deadlock)
		snprintf(v, sizeof(v), "deadlock");
	else
		snprintf(v, sizeof(v), "%.1f ms", tg.w4_ms);
	target("W4 completes, ≤ 100 ms, no hints", tg.w4_deadlock ? 0 : tg.w4_ms, v,
	       !tg.w4_deadlock && tg.w4_ms <= 100);
	/* The targets are for 2 cores, where C = 2; elsewhere the
	 * bound is ringpool's own concurrency target. */
	unsigned c = ringpool_concurrency();
	char what[64];
	snprintf(what, sizeof(what), "W5 with hints: peak computing ≤ C (%u)", c);
	snprintf(v, sizeof(v), "%.0f", tg.w5_peak);
	target(what, tg.w5_peak, v, tg.w5_peak <= c);
	snprintf(v, sizeof(v), "%.3f× ideal", tg.w5_ratio);
	target("W5 with hints: makespan ≤ 1.05× ideal", tg.w5_ratio, v, tg.w5_ratio <= 1.05);
close:
	close_out(md);
	close_out(summary_csv);
	close_out(runs_csv);
	if (fflush(stdout) != 0 || ferror(stdout))
		write_failed = true;
	if (write_failed)
		fprintf(stderr, "rpbench: write error\n");
	return write_failed ? -EIO : 0;
}
