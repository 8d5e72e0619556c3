/* SPDX-License-Identifier: MIT */
/*
 * topology.c - the target concurrency C: how many CPUs this process can use.
 *
 * C is the number of distinct physical cores among the CPUs in the affinity
 * mask, capped by the cgroup v2 CPU quota, unless RINGPOOL_CONCURRENCY says
 * otherwise (DESIGN.md, "Target concurrency C").  Everything here reads
 * kernel-provided text files, and every one of them may be missing, truncated
 * or odd inside containers and on old kernels, so every reader treats a file
 * it cannot parse exactly as a file that is absent and falls back to a more
 * conservative answer instead of failing.
 *
 * The functions take the sysfs and cgroup roots as arguments so that the tests
 * can point them at a fake tree; rp__topology_concurrency() is the only one
 * that touches the real /sys and /proc.  None of them keeps state between
 * calls, so all of them are MT-Safe.
 */
#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * CPU numbers above this are rejected by the list parser.  It is far above any
 * kernel's NR_CPUS (8192 on the largest distribution kernels), and it keeps
 * every range and bitmap size computation clear of overflow.
 */
#define TOPO_MAX_CPU (1u << 22)

/* The kernel's own files are a few bytes long; anything bigger is not one. */
#define TOPO_FILE_MAX 4096

/*
 * read_small - read a whole small file into @buf as a C string.
 * @dirfd: directory that @path is relative to, or AT_FDCWD.
 * @path: file to read.
 * @buf: where the contents go; always NUL-terminated on success.
 * @size: size of @buf; the file must be shorter than this.
 *
 * A file that does not fit is refused rather than truncated: parsing the
 * front half of a CPU list or of cpu.max would give a plausible wrong answer.
 *
 * Context: any thread; blocks only on the file system.
 * Return: the length read, or a negative errno value (-EFBIG when the file is
 * too large for @buf).
 */
static ssize_t read_small(int dirfd, const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	int fd;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (len == size - 1) {
			/* Full buffer: only a read of 0 proves we saw the end. */
			char extra;

			do
				n = read(fd, &extra, 1);
			while (n < 0 && errno == EINTR);
			if (n != 0) {
				n = n < 0 ? -errno : -EFBIG;
				close(fd);
				return n;
			}
			break;
		}
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	/* A NUL inside would hide the rest of the file from the parsers. */
	if (memchr(buf, '\0', len))
		return -EINVAL;
	buf[len] = '\0';
	return (ssize_t)len;
}

static const char *skip_blanks(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Trailing white space, the kernel's final newline included, is allowed. */
static bool only_space_left(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	return *s == '\0';
}

/*
 * parse_u64 - parse a decimal number with no sign and no leading blanks.
 * @sp: the cursor; advanced past the digits on success.
 * @max: the largest value accepted.
 * @out: the value.
 *
 * strtoull() is not used because it accepts leading blanks, a sign ("-1"
 * becomes ULLONG_MAX) and a "0x" prefix with base 0, none of which belong in
 * these files.
 *
 * Context: any thread.
 * Return: true if at least one digit was read and the value is <= @max.
 */
static bool parse_u64(const char **sp, unsigned long long max,
		      unsigned long long *out)
{
	const char *s = *sp;
	unsigned long long v = 0;

	if (*s < '0' || *s > '9')
		return false;
	while (*s >= '0' && *s <= '9') {
		unsigned d = (unsigned)(*s - '0');

		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
		s++;
	}
	*sp = s;
	*out = v;
	return true;
}

/*
 * parse_cpulist - check a sysfs CPU list and find its lowest CPU.
 * @s: the list, as in "0-3,8-11\n" or "5\n".
 * @cpu: the CPU whose topology file @s came from.
 * @lowest: the lowest CPU in the list, on success.
 *
 * The kernel prints these lists without blanks, but the ABI document writes
 * them as "0-3, 8-11, 14,17", so blanks around items are accepted too.  A
 * core's list always contains the CPU it was read for; a list that does not
 * is damaged, and is refused so that the caller falls back instead of merging
 * @cpu into some unrelated core.
 *
 * Context: any thread.
 * Return: true if @s is a well-formed, non-empty list that contains @cpu.
 */
static bool parse_cpulist(const char *s, size_t cpu, size_t *lowest)
{
	unsigned long long lo, hi, min = ULLONG_MAX;
	bool has_cpu = false;

	for (;;) {
		s = skip_blanks(s);
		if (!parse_u64(&s, TOPO_MAX_CPU, &lo))
			return false;
		hi = lo;
		if (*s == '-') {
			s++;
			if (!parse_u64(&s, TOPO_MAX_CPU, &hi) || hi < lo)
				return false;
		}
		if (lo < min)
			min = lo;
		if (lo <= cpu && cpu <= hi)
			has_cpu = true;
		s = skip_blanks(s);
		if (*s != ',')
			break;
		s++;
	}
	if (!only_space_left(s) || !has_cpu)
		return false;
	*lowest = (size_t)min;
	return true;
}

/*
 * core_of - the identity of the physical core that @cpu belongs to.
 * @dirfd: the sysfs CPU directory, or -1 if it could not be opened.
 * @cpu: a CPU number.
 *
 * Two CPUs share a core iff their core lists are equal, so the lowest CPU of
 * the list names the core.  core_cpus_list appeared in Linux 5.3; older
 * kernels have only thread_siblings_list, which holds the same list under its
 * deprecated name.  When neither can be read, @cpu counts as a core of its
 * own: that may over-count SMT siblings, but never merges two real cores and
 * so never starves the pool.
 *
 * Context: any thread; blocks only on the file system.
 * Return: a CPU number <= @cpu that identifies the core.
 */
static size_t core_of(int dirfd, size_t cpu)
{
	static const char *const names[] = {
		"core_cpus_list",
		"thread_siblings_list",
	};
	char path[64], buf[TOPO_FILE_MAX];
	size_t i, lowest;
	int len;

	if (dirfd < 0)
		return cpu;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		len = snprintf(path, sizeof(path), "cpu%zu/topology/%s", cpu,
			       names[i]);
		if (len < 0 || (size_t)len >= sizeof(path))
			continue;
		if (read_small(dirfd, path, buf, sizeof(buf)) < 0)
			continue;
		if (parse_cpulist(buf, cpu, &lowest))
			return lowest;
	}
	return cpu;
}

/*
 * rp__topology_cores - count the physical cores among the CPUs in @mask.
 * @mask: a CPU set, possibly allocated with CPU_ALLOC().
 * @setsize: its size in bytes (CPU_ALLOC_SIZE(), or sizeof(cpu_set_t)).
 * @sysfs_cpu: the CPU directory of sysfs, normally "/sys/devices/system/cpu".
 *
 * A CPU whose topology cannot be read counts as a core of its own (see
 * core_of()).  If memory for the bookkeeping set cannot be had, every CPU is
 * counted, which is the same conservative answer.
 *
 * Context: any thread; blocks only on the file system (two small reads per
 * CPU in @mask at most).
 * Return: the number of distinct cores, >= 1 when @mask has any CPU, else 0.
 */
unsigned rp__topology_cores(const cpu_set_t *mask, size_t setsize,
			    const char *sysfs_cpu)
{
	size_t ncpus, seen_size, cpu, core;
	cpu_set_t *seen;
	unsigned cores = 0;
	int dirfd;

	if (!mask || setsize == 0 || CPU_COUNT_S(setsize, mask) == 0)
		return 0;
	ncpus = setsize * CHAR_BIT;

	/*
	 * core_of() never returns more than the CPU it was asked about, so a
	 * set as large as @mask can record every core seen.
	 */
	seen = CPU_ALLOC(ncpus);
	if (!seen)
		return (unsigned)CPU_COUNT_S(setsize, mask);
	seen_size = CPU_ALLOC_SIZE(ncpus);
	CPU_ZERO_S(seen_size, seen);

	dirfd = sysfs_cpu ? open(sysfs_cpu, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
	for (cpu = 0; cpu < ncpus; cpu++) {
		if (!CPU_ISSET_S(cpu, setsize, mask))
			continue;
		core = core_of(dirfd, cpu);
		if (!CPU_ISSET_S(core, seen_size, seen)) {
			CPU_SET_S(core, seen_size, seen);
			cores++;
		}
	}
	if (dirfd >= 0)
		close(dirfd);
	CPU_FREE(seen);
	return cores;
}

/*
 * read_cpu_max - the CPU cap one cgroup's cpu.max file sets.
 * @dirfd: the cgroup v2 root directory.
 * @path: the cpu.max file, relative to @dirfd.
 *
 * The file holds "$QUOTA $PERIOD" in microseconds, or "max $PERIOD" for no
 * limit.  A quota of 1.5 periods lets the group use 1.5 CPUs' worth of time,
 * spread over any number of threads; running two threads would use it all
 * in part of each period, so the cap rounds up rather than down.
 *
 * Context: any thread; blocks only on the file system.
 * Return: ceil(quota / period) clamped to UINT_MAX, or 0 when the file is
 * absent, says "max", or cannot be parsed.
 */
static unsigned read_cpu_max(int dirfd, const char *path)
{
	unsigned long long quota, period, cap;
	const char *s;
	char buf[128];

	if (read_small(dirfd, path, buf, sizeof(buf)) < 0)
		return 0;
	s = skip_blanks(buf);
	if (strncmp(s, "max", 3) == 0 && (s[3] == ' ' || s[3] == '\t' ||
					  s[3] == '\n' || s[3] == '\0'))
		return 0;
	if (!parse_u64(&s, ULLONG_MAX, &quota) || (*s != ' ' && *s != '\t'))
		return 0;
	s = skip_blanks(s);
	if (!parse_u64(&s, ULLONG_MAX, &period) || !only_space_left(s))
		return 0;
	if (quota == 0 || period == 0)
		return 0;
	cap = quota / period + (quota % period != 0);
	return cap > UINT_MAX ? UINT_MAX : (unsigned)cap;
}

/*
 * cgroup_path - find this process's cgroup v2 path in @proc_cgroup.
 * @proc_cgroup: normally "/proc/self/cgroup".
 *
 * The unified hierarchy's line is "0::<path>".  Under cgroup v1 there is no
 * such line; in hybrid mode there is one, for a hierarchy that usually has no
 * cpu controller.  A path with a ".." component means our cgroup lies outside
 * the root of our cgroup namespace, where its files cannot be seen; it is
 * refused, so that the walk up the tree cannot leave the cgroup root.
 *
 * Context: any thread; blocks only on the file system.
 * Return: the path without its leading '/' (possibly ""), allocated with
 * malloc() and with room for "/cpu.max" after it, or NULL.
 */
static char *cgroup_path(const char *proc_cgroup)
{
	static const char suffix[] = "/cpu.max";
	char *line = NULL, *path = NULL, *p, *comp;
	size_t cap = 0, len;
	ssize_t n;
	FILE *f;

	f = fopen(proc_cgroup, "re");
	if (!f)
		return NULL;
	while ((n = getline(&line, &cap, f)) >= 0) {
		if (strncmp(line, "0::/", 4) != 0)
			continue;
		p = line + 4;
		len = strcspn(p, "\n");
		p[len] = '\0';
		/* "/a/b/" and "/a/b" name the same group. */
		while (len > 0 && p[len - 1] == '/')
			p[--len] = '\0';
		for (comp = p; comp; comp = strchr(comp, '/')) {
			comp += *comp == '/';
			if (strncmp(comp, "..", 2) == 0 &&
			    (comp[2] == '/' || comp[2] == '\0'))
				goto out;
		}
		path = malloc(len + sizeof(suffix));
		if (path)
			memcpy(path, p, len + 1);
		break;
	}
out:
	free(line);
	fclose(f);
	return path;
}

/*
 * rp__topology_cgroup_cap - the CPU cap set by cgroup v2 cpu.max quotas.
 * @proc_cgroup: normally "/proc/self/cgroup".
 * @cgroup_root: where cgroup2 is mounted, normally "/sys/fs/cgroup".
 *
 * A quota set on any ancestor limits every group below it, so the walk reads
 * cpu.max in our own group and in each ancestor up to and including
 * @cgroup_root, and keeps the smallest cap.  The real root cgroup has no
 * cpu.max, but a container's /sys/fs/cgroup is often its own cgroup, which
 * does; reading it is what catches a quota set on the container.  Under
 * cgroup v1 (a quota in cpu.cfs_quota_us) this returns 0.
 *
 * Context: any thread; blocks only on the file system.
 * Return: the cap (>= 1), or 0 when there is no limit or no cgroup v2.
 */
unsigned rp__topology_cgroup_cap(const char *proc_cgroup, const char *cgroup_root)
{
	static const char suffix[] = "/cpu.max";
	unsigned best = 0, cap;
	char *path, *slash;
	size_t len;
	int dirfd;

	if (!proc_cgroup || !cgroup_root)
		return 0;
	path = cgroup_path(proc_cgroup);
	if (!path)
		return 0;
	dirfd = open(cgroup_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		free(path);
		return 0;
	}
	len = strlen(path);
	for (;;) {
		/* At the root, "cpu.max"; elsewhere "<path>/cpu.max". */
		if (len == 0)
			memcpy(path, suffix + 1, sizeof(suffix) - 1);
		else
			memcpy(path + len, suffix, sizeof(suffix));
		cap = read_cpu_max(dirfd, path);
		if (cap && (best == 0 || cap < best))
			best = cap;
		if (len == 0)
			break;
		path[len] = '\0';
		slash = strrchr(path, '/');
		len = slash ? (size_t)(slash - path) : 0;
		path[len] = '\0';
	}
	close(dirfd);
	free(path);
	return best;
}

/*
 * rp__topology_parse_env - parse a RINGPOOL_CONCURRENCY value.
 * @s: the value, or NULL when the variable is unset.
 *
 * Only plain digits are accepted: no sign, no blanks, no suffix, so that a
 * typo such as "4x" or "-1" is ignored rather than read as 4 or as a huge
 * number.  The ceiling of 4096 keeps a stray value from asking for an absurd
 * number of running workers.
 *
 * Context: any thread.
 * Return: the value (1..4096), or 0 if @s is NULL or invalid.
 */
unsigned rp__topology_parse_env(const char *s)
{
	unsigned long long v;

	if (!s || !parse_u64(&s, RP_CONCURRENCY_MAX, &v) || *s != '\0')
		return 0;
	return (unsigned)v;
}

/*
 * affinity_cores - the physical cores in the calling thread's affinity mask.
 *
 * The kernel refuses (EINVAL) a mask buffer smaller than its own CPU mask, so
 * the buffer starts at the number of configured CPUs (at least the 1024 of a
 * static cpu_set_t) and doubles until the call succeeds; a static cpu_set_t
 * would fail outright on machines with more than 1024 CPUs.
 *
 * Context: any thread; blocks only on the file system.
 * Return: the number of cores, or 0 if the mask could not be read.
 */
static unsigned affinity_cores(void)
{
	long conf = sysconf(_SC_NPROCESSORS_CONF);
	size_t n = CPU_SETSIZE, size;
	unsigned cores = 0;
	cpu_set_t *set;

	if (conf > 0 && (unsigned long)conf > n)
		n = (size_t)conf;
	for (; n <= TOPO_MAX_CPU; n *= 2) {
		set = CPU_ALLOC(n);
		if (!set)
			break;
		size = CPU_ALLOC_SIZE(n);
		if (sched_getaffinity(0, size, set) == 0) {
			cores = rp__topology_cores(set, size,
						   "/sys/devices/system/cpu");
			CPU_FREE(set);
			break;
		}
		CPU_FREE(set);
		if (errno != EINVAL)
			break;
	}
	return cores;
}

/*
 * rp__topology_concurrency - the target concurrency C for a new pool.
 *
 * RINGPOOL_CONCURRENCY wins when it is set and valid; an invalid value is
 * ignored as if unset.  Otherwise C is the number of physical cores in the
 * calling thread's affinity mask (the process's, unless the caller has pinned
 * itself), capped by the cgroup v2 quota.  If the mask cannot be read, the
 * online CPU count stands in for it.
 *
 * Context: any thread; blocks only on the file system.  Reads the real /sys,
 * /proc and /sys/fs/cgroup and the environment, so it must not race with
 * setenv() in another thread, as for any getenv() caller.
 * Return: C, never below 1.
 */
unsigned rp__topology_concurrency(void)
{
	unsigned c, cap;
	long onln;

	c = rp__topology_parse_env(getenv("RINGPOOL_CONCURRENCY"));
	if (c)
		return c;
	c = affinity_cores();
	if (c == 0) {
		onln = sysconf(_SC_NPROCESSORS_ONLN);
		c = onln > 0 && onln <= UINT_MAX ? (unsigned)onln : 1;
	}
	cap = rp__topology_cgroup_cap("/proc/self/cgroup", "/sys/fs/cgroup");
	if (cap && cap < c)
		c = cap;
	if (c > RP_CONCURRENCY_MAX)
		c = RP_CONCURRENCY_MAX;
	return c ? c : 1;
}
