/* SPDX-License-Identifier: MIT */
/*
 * bench.h - what rpbench's three parts share: the driver (rpbench.c: options,
 * one child process per run, the watchdog), the workloads (workloads.c: the
 * task code, identical for every peer) and the report (report.c: tables,
 * CSV, plot data).
 */
#ifndef RPBENCH_BENCH_H
#define RPBENCH_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter.h"

#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_USEC 1000ULL

#define MAX_REPS 64
#define MAX_METRICS 4
#define MAX_SIZES 6		/* thread counts a workload sweeps fixed pools over */
#define MAX_SAMPLES 65536	/* per-run samples a child hands back (W2, W5) */

/* One pool configuration a workload is run on: a row of the report. */
struct variant {
	const struct bench_peer *peer;
	unsigned threads;	/* given to init; 0: the peer's default */
	bool hints;		/* blocking calls bracketed with block_begin/end */
	char label[40];		/* "ringpool", "ringpool+hints", "glib/8", "libuv" */
};

enum run_status {
	RUN_OK,
	RUN_FAILED,		/* err says why, or the child died */
	RUN_DEADLOCK,		/* no progress, or still running at the limit */
	RUN_TIMEOUT,		/* too slow: stopped at the limit (not a deadlock) */
};

/* What one run (one workload, one variant, one repetition) produced. */
struct result {
	enum run_status status;
	int err;			/* RUN_FAILED: negative errno, or the signal */
	double v[MAX_METRICS];		/* indexed like workload.metrics */
	double cpu_ms;			/* process CPU time in the measured window */
	long nvcsw, nivcsw;		/* context switches in the measured window */
	unsigned peak_threads;		/* most threads the process had */
	unsigned long done, total;	/* tasks finished of those expected */
};

/*
 * A page of memory shared between the parent and the child of one run
 * (MAP_SHARED, so it survives the child being killed).
 */
struct shared {
	struct result res;
	atomic_ulong progress;		/* tasks finished so far (watchdog) */
	size_t nsamples;		/* valid entries in samples[] */
	uint64_t samples[MAX_SAMPLES];	/* W2: latencies; W5: start, end pairs */
};

struct config;

struct metric {
	const char *name;
	const char *unit;
	bool higher_is_better;
};

struct workload {
	const char *name;
	const char *title;		/* one line for the report */
	unsigned nmetrics;
	struct metric metrics[MAX_METRICS];
	/* Fixed pools run at each of these sizes; none: at their default. */
	unsigned sizes[MAX_SIZES];
	bool hint_variant;		/* also run peers with hints, with them on */
	bool deadlock_possible;		/* a stall is reported as a deadlock */
	uint64_t limit_ns;		/* a run still going after this is stopped */
	int (*run)(const struct variant *v, const struct config *cfg, struct shared *sh);
	/* The ideal value of metric 0 on this machine, or 0 when there is none. */
	double (*ideal)(const struct config *cfg);
};

struct config {
	const char *mode;		/* "quick" or "full" */
	unsigned reps;
	unsigned threads;		/* --threads: overrides every default; 0: none */
	unsigned cores;			/* CPUs in the affinity mask: "ideal" divides by it */
	uint64_t w2_ns;			/* W2: length of the posting window */
	uint64_t idle_ns;		/* idle: length of the idle window */
	uint64_t direct_ns;		/* W9: length of the measured window */
	uint64_t slow_ns;		/* a run slower than this is stopped and reported */
	uint64_t stall_ns;		/* no progress and no CPU this long: a deadlock */
	double iters_per_us;		/* CPU work calibration, done once per run */
	const char *out_dir;		/* --out: report, CSV, plot data; NULL: none */
	const struct bench_peer *peers[16];
	unsigned npeers;
	const struct workload *workloads[16];
	unsigned nworkloads;
};

/* rpbench.c */
uint64_t run_limit_ns(const struct workload *wl, const struct config *cfg);

/* workloads.c */
extern const struct workload bench_workloads[];
extern const unsigned bench_nworkloads;
double bench_calibrate(void);
uint64_t bench_now_ns(void);
_Noreturn void bench_fatal(const char *what, int err);

/* report.c */
struct run_table {
	const struct config *cfg;
	const struct workload *wl;
	const struct variant *vars;
	unsigned nvars;
	const struct result *res;	/* [rep][variant] */
	/* W2 latencies / W5 events of every run, [rep][variant], or NULL. */
	uint64_t *const *samples;
	const size_t *nsamples;
};
void report_begin(const struct config *cfg, const char *skipped);
void report_workload(const struct run_table *t);
int report_end(void);

#endif /* RPBENCH_BENCH_H */
