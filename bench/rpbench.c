/* SPDX-License-Identifier: MIT */
/*
 * rpbench.c - runs each workload on each peer (bench/adapter.h) and reports
 * medians, ranges and ratios to ringpool (report.c).
 *
 * Method: each run (one workload on one pool configuration, once) is a child
 * process forked from this one, which never starts a thread: pools keep
 * process-wide state, and a run that deadlocks must be stoppable.  While a
 * child runs, the parent samples its thread count and CPU time every 10 ms
 * (peak threads; the deadlock watchdog).  Repetitions interleave the
 * configurations (A B A B ...), so slow drift of the machine hits every
 * peer alike.  See bench/README.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "bench.h"

#define POLL_NS (10 * NSEC_PER_MSEC)	/* parent's sampling period */

/* ringpool first, so that it is "A" in the A B A B interleaving. */
static const struct bench_peer *const all_peers[] = {
	&bench_peer_ringpool,
	&bench_peer_pthread,
#ifdef BENCH_HAVE_GLIB
	&bench_peer_glib,
#endif
#ifdef BENCH_HAVE_UV
	&bench_peer_uv,
#endif
#ifdef BENCH_HAVE_OMP
	&bench_peer_omp,
#endif
#ifdef BENCH_HAVE_TBB
	&bench_peer_tbb,
#endif
#ifdef BENCH_HAVE_APR
	&bench_peer_apr,
#endif
#ifdef BENCH_HAVE_DISPATCH
	&bench_peer_dispatch,
#endif
};
#define NPEERS (sizeof(all_peers) / sizeof(all_peers[0]))

/* Peers configure did not build, and why: said in every report. */
#ifndef BENCH_SKIPPED_PEERS
#define BENCH_SKIPPED_PEERS ""
#endif

/* ------------------------------------------------------------ the watchdog */

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / NSEC_PER_SEC),
			       .tv_nsec = (long)(ns % NSEC_PER_SEC) };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Threads and CPU ticks (user + system) of process @fd's /proc/PID/stat. */
static int proc_sample(int fd, unsigned *threads, unsigned long long *ticks)
{
	char buf[1024];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The command name may hold spaces; fields count from its ')'. */
	char *p = strrchr(buf, ')');
	unsigned long long ut, st;
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
				"%*d %*d %*d %*d %u", &ut, &st, threads) != 3)
		return -1;
	*ticks = ut + st;
	return 0;
}

/* How long a run of @wl may take before it is stopped. */
uint64_t run_limit_ns(const struct workload *wl, const struct config *cfg)
{
	/* A deadlock's limit is the workload's own; the rest are merely slow. */
	if (wl->deadlock_possible || wl->limit_ns < cfg->slow_ns)
		return wl->limit_ns;
	return cfg->slow_ns;
}

/*
 * Run @wl on @v once, in a child process, and fill @res.  @sh is the page
 * shared with the child.
 */
static void run_one(const struct workload *wl, const struct variant *v, const struct config *cfg,
		    struct shared *sh, struct result *res)
{
	memset(sh, 0, offsetof(struct shared, samples));
	fflush(NULL);	/* Or the child would print our buffered output again. */

	pid_t pid = fork();
	if (pid < 0) {
		*res = (struct result){ .status = RUN_FAILED, .err = -errno };
		return;
	}
	if (pid == 0) {
		/* Die with the parent: an interrupted rpbench leaves no 1024-thread orphan. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int ret = wl->run(v, cfg, sh);
		sh->res.err = ret;
		sh->res.status = ret < 0 ? RUN_FAILED : RUN_OK;
		_exit(ret < 0 ? 1 : 0);
	}

	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t start = bench_now_ns(), last_change = start;
	unsigned long last_progress = 0;
	unsigned long long last_ticks = 0;
	unsigned peak = 0;
	enum run_status killed = RUN_OK;
	uint64_t limit = run_limit_ns(wl, cfg);
	int status;

	while (waitpid(pid, &status, WNOHANG) == 0) {
		unsigned threads;
		unsigned long long ticks;
		uint64_t now = bench_now_ns();

		if (fd >= 0 && proc_sample(fd, &threads, &ticks) == 0) {
			if (threads > peak)
				peak = threads;
			unsigned long prog = atomic_load(&sh->progress);
			if (prog != last_progress || ticks != last_ticks) {
				last_progress = prog;
				last_ticks = ticks;
				last_change = now;
			}
		}
		/*
		 * A stall: no task finished and no thread used CPU for a while
		 * (1 s; 0.5 s in quick mode), while tasks are still to come.  In a workload whose
		 * tasks wait only for one another, nothing can ever wake it.
		 */
		if (wl->deadlock_possible && now - last_change >= cfg->stall_ns)
			killed = RUN_DEADLOCK;
		else if (now - start >= limit)
			killed = wl->deadlock_possible ? RUN_DEADLOCK : RUN_TIMEOUT;
		if (killed != RUN_OK) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		sleep_ns(POLL_NS);
	}
	if (fd >= 0)
		close(fd);

	*res = sh->res;
	if (killed != RUN_OK) {
		res->status = killed;
		res->done = atomic_load(&sh->progress);
	} else if (WIFSIGNALED(status)) {
		res->status = RUN_FAILED;
		res->err = -EINTR;
		fprintf(stderr, "rpbench: %s on %s: killed by signal %d\n", wl->name, v->label,
			WTERMSIG(status));
	} else if (WEXITSTATUS(status) != 0 && res->err == 0) {
		res->status = RUN_FAILED;
		res->err = -EIO;
	}
	if (res->status == RUN_FAILED && res->err < 0 && res->err != -EINTR)
		fprintf(stderr, "rpbench: %s on %s: %s\n", wl->name, v->label, strerror(-res->err));
	if (peak > res->peak_threads)
		res->peak_threads = peak;
}

/* ----------------------------------------------------------- configurations */

/*
 * The rows of @wl: each peer at its default (or --threads), a fixed pool at
 * each of the workload's sizes instead, and peers with hints once more with
 * hints on where the workload blocks.
 */
static unsigned variants(const struct workload *wl, const struct config *cfg,
			 struct variant *out, unsigned max)
{
	unsigned n = 0;

	for (unsigned p = 0; p < cfg->npeers; p++) {
		const struct bench_peer *peer = cfg->peers[p];
		bool sweep = (peer->flags & BENCH_PEER_FIXED) && wl->sizes[0] != 0 &&
			     cfg->threads == 0;

		for (unsigned s = 0; s < (sweep ? MAX_SIZES : 1) && n < max; s++) {
			if (sweep && wl->sizes[s] == 0)
				break;
			struct variant *v = &out[n++];
			v->peer = peer;
			v->threads = sweep ? wl->sizes[s] : cfg->threads;
			v->hints = false;
			if (v->threads != 0)
				snprintf(v->label, sizeof(v->label), "%s/%u", peer->name, v->threads);
			else
				snprintf(v->label, sizeof(v->label), "%s", peer->name);
		}
		if (wl->hint_variant && peer->block_begin != NULL && n < max) {
			out[n] = out[n - 1];
			out[n].hints = true;
			strncat(out[n].label, "+hints", sizeof(out[n].label) - strlen(out[n].label) - 1);
			n++;
		}
	}
	return n;
}

/* ------------------------------------------------------------------ driver */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rpbench [--quick | --full] [--out DIR] [--peers a,b] [--workloads a,b]\n"
		"               [--threads N] [--reps N]\n"
		"  --quick          3 repetitions, W2 and W9 for 1.0 s, idle for 0.5 s, runs stopped\n"
		"                   after 10 s, deadlock after a 0.5 s stall (the default)\n"
		"  --full           5 repetitions, W2 for 1.5 s, W9 for 2 s, idle for 1 s, runs stopped\n"
		"                   after 30 s, deadlock after a 1 s stall\n"
		"  --out DIR        also write report.md, summary.csv, runs.csv and plot data\n"
		"                   to DIR (bench/plot.sh DIR draws the plots)\n"
		"  --peers LIST     peers to run, in this order (default: all built in)\n"
		"  --workloads LIST workloads to run, in this order (default: all)\n"
		"  --threads N      thread count / concurrency given to every peer, instead\n"
		"                   of each one's default and of the workloads' size sweeps\n"
		"  --reps N         override the number of repetitions\n");
	fprintf(f, "peers:");
	for (size_t i = 0; i < NPEERS; i++)
		fprintf(f, " %s", all_peers[i]->name);
	fprintf(f, "\nworkloads:");
	for (unsigned i = 0; i < bench_nworkloads; i++)
		fprintf(f, " %s", bench_workloads[i].name);
	fprintf(f, "\n");
	if (BENCH_SKIPPED_PEERS[0] != '\0')
		fprintf(f, "not built: %s\n", BENCH_SKIPPED_PEERS);
}

/*
 * Parse a comma-separated list of names (case-insensitive) into indexes of
 * @names[0..n).  Return the count, or 0 after printing why the list is bad.
 */
static unsigned parse_list(const char *list, const char *const *names, size_t n,
			   unsigned *idx, const char *kind)
{
	char *copy = strdup(list), *save = NULL;
	unsigned count = 0;

	if (copy == NULL) {
		fprintf(stderr, "rpbench: out of memory\n");
		return 0;
	}
	for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		size_t i = 0;

		while (i < n && strcasecmp(tok, names[i]) != 0)
			i++;
		if (i == n) {
			fprintf(stderr, "rpbench: unknown %s '%s'\n", kind, tok);
			goto bad;
		}
		/* Also bounds count by n: a list without repeats has at most n names. */
		for (unsigned j = 0; j < count; j++) {
			if (idx[j] == i) {
				fprintf(stderr, "rpbench: %s '%s' listed twice\n", kind, tok);
				goto bad;
			}
		}
		idx[count++] = (unsigned)i;
	}
	free(copy);
	if (count == 0)
		fprintf(stderr, "rpbench: empty list of %ss\n", kind);
	return count;
bad:
	free(copy);
	return 0;
}

static int parse_uint(const char *s, unsigned *out)
{
	char *end;

	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > UINT_MAX || s[0] == '-')
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static void set_mode(struct config *cfg, bool full)
{
	cfg->mode = full ? "full" : "quick";
	cfg->reps = full ? 5 : 3;
	cfg->w2_ns = full ? 3 * NSEC_PER_SEC / 2 : NSEC_PER_SEC;
	cfg->idle_ns = full ? NSEC_PER_SEC : NSEC_PER_SEC / 2;
	cfg->direct_ns = full ? 2 * NSEC_PER_SEC : NSEC_PER_SEC;
	cfg->slow_ns = (full ? 30 : 10) * NSEC_PER_SEC;
	cfg->stall_ns = full ? NSEC_PER_SEC : NSEC_PER_SEC / 2;
}

static int parse_args(int argc, char **argv, struct config *cfg)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "full", no_argument, NULL, 'f' },
		{ "out", required_argument, NULL, 'o' },
		{ "peers", required_argument, NULL, 'p' },
		{ "workloads", required_argument, NULL, 'w' },
		{ "threads", required_argument, NULL, 't' },
		{ "reps", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *peer_names[NPEERS], *workload_names[16];
	unsigned picked[16];
	unsigned reps = 0;
	int c;

	_Static_assert(NPEERS <= 16, "raise config.peers");
	*cfg = (struct config){ 0 };
	set_mode(cfg, false);
	for (size_t i = 0; i < NPEERS; i++) {
		peer_names[i] = all_peers[i]->name;
		cfg->peers[i] = all_peers[i];
	}
	cfg->npeers = NPEERS;
	for (unsigned i = 0; i < bench_nworkloads; i++) {
		workload_names[i] = bench_workloads[i].name;
		cfg->workloads[i] = &bench_workloads[i];
	}
	cfg->nworkloads = bench_nworkloads;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
		case 'f':
			set_mode(cfg, c == 'f');
			break;
		case 'o':
			cfg->out_dir = optarg;
			break;
		case 'p':
			cfg->npeers = parse_list(optarg, peer_names, NPEERS, picked, "peer");
			if (cfg->npeers == 0)
				return -EINVAL;
			for (unsigned i = 0; i < cfg->npeers; i++)
				cfg->peers[i] = all_peers[picked[i]];
			break;
		case 'w':
			cfg->nworkloads = parse_list(optarg, workload_names, bench_nworkloads, picked,
						     "workload");
			if (cfg->nworkloads == 0)
				return -EINVAL;
			for (unsigned i = 0; i < cfg->nworkloads; i++)
				cfg->workloads[i] = &bench_workloads[picked[i]];
			break;
		case 't':
			if (parse_uint(optarg, &cfg->threads) < 0) {
				fprintf(stderr, "rpbench: bad --threads '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case 'r':
			if (parse_uint(optarg, &reps) < 0 || reps == 0 || reps > MAX_REPS) {
				fprintf(stderr, "rpbench: bad --reps '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "rpbench: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (reps != 0)
		cfg->reps = reps;	/* --reps wins over --quick/--full, whatever the order */
	return 0;
}

int main(int argc, char **argv)
{
	struct config cfg;
	bool failed = false;
	bool progress = isatty(STDERR_FILENO);
	cpu_set_t set;

	if (parse_args(argc, argv, &cfg) < 0) {
		usage(stderr);
		return 2;
	}
	if (cfg.out_dir != NULL && mkdir(cfg.out_dir, 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "rpbench: %s: %s\n", cfg.out_dir, strerror(errno));
		return 2;
	}
	cfg.cores = sched_getaffinity(0, sizeof(set), &set) == 0 ? (unsigned)CPU_COUNT(&set) : 1;
	cfg.iters_per_us = bench_calibrate();

	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		fprintf(stderr, "rpbench: mmap: %s\n", strerror(errno));
		return 1;
	}
	report_begin(&cfg, BENCH_SKIPPED_PEERS);

	for (unsigned w = 0; w < cfg.nworkloads; w++) {
		const struct workload *wl = cfg.workloads[w];
		struct variant vars[64];
		unsigned nv = variants(wl, &cfg, vars, 64);
		size_t nruns = (size_t)cfg.reps * nv;
		struct result *res = calloc(nruns, sizeof(*res));
		uint64_t **samples = calloc(nruns, sizeof(*samples));
		size_t *nsamples = calloc(nruns, sizeof(*nsamples));

		if (res == NULL || samples == NULL || nsamples == NULL) {
			fprintf(stderr, "rpbench: out of memory\n");
			return 1;
		}
		for (unsigned r = 0; r < cfg.reps; r++) {
			for (unsigned i = 0; i < nv; i++) {
				size_t k = (size_t)r * nv + i;

				/* Progress on stderr keeps stdout a clean report. */
				if (progress)
					fprintf(stderr, "\r%-6s rep %u/%u %-20s", wl->name, r + 1,
						cfg.reps, vars[i].label);
				run_one(wl, &vars[i], &cfg, sh, &res[k]);
				if (res[k].status == RUN_FAILED)
					failed = true;
				if (res[k].status == RUN_OK && sh->nsamples > 0) {
					samples[k] = malloc(sh->nsamples * sizeof(uint64_t));
					if (samples[k] != NULL) {
						memcpy(samples[k], sh->samples,
						       sh->nsamples * sizeof(uint64_t));
						nsamples[k] = sh->nsamples;
					}
				}
			}
		}
		if (progress)
			fprintf(stderr, "\r%50s\r", "");

		struct run_table t = {
			.cfg = &cfg, .wl = wl, .vars = vars, .nvars = nv, .res = res,
			.samples = samples, .nsamples = nsamples,
		};
		report_workload(&t);
		for (size_t k = 0; k < nruns; k++)
			free(samples[k]);
		free(samples);
		free(nsamples);
		free(res);
	}
	if (report_end() < 0)
		failed = true;
	return failed ? 1 : 0;
}
