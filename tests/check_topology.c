/* SPDX-License-Identifier: MIT */
/*
 * check_topology.c - unit tests for lib/topology.c.
 *
 * Every test but the two that call rp__topology_concurrency() runs against a
 * fake sysfs CPU directory and a fake cgroup tree built in a fresh temporary
 * directory, so the results do not depend on the machine running them.  The
 * base directory is made and removed by an unchecked fixture: it runs in the
 * parent process, so the tree is cleaned up even when a forked test fails.
 */
#include "config.h"

#include "../lib/internal.h"

#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char t_base[PATH_MAX];

static void t_base_setup(void)
{
	const char *tmp = getenv("TMPDIR");

	if (!tmp || !*tmp)
		tmp = "/tmp";
	snprintf(t_base, sizeof(t_base), "%s/check_topology.XXXXXX", tmp);
	if (!mkdtemp(t_base)) {
		perror("mkdtemp");
		/* automake reads 99 as a hard error, not a test failure. */
		exit(99);
	}
}

static int t_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void t_base_teardown(void)
{
	nftw(t_base, t_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh, empty directory for one test, under the fixture's base. */
static void t_tree(char *root, size_t size)
{
	int n = snprintf(root, size, "%s/t.XXXXXX", t_base);

	ck_assert(n > 0 && (size_t)n < size);
	ck_assert_ptr_nonnull(mkdtemp(root));
}

static void t_join(char *out, size_t size, const char *root, const char *rel)
{
	int n = snprintf(out, size, "%s/%s", root, rel);

	ck_assert(n > 0 && (size_t)n < size);
}

/* Create the directory @rel under @root, and any missing parents. */
static void t_mkdirs(const char *root, const char *rel)
{
	char path[PATH_MAX];
	char *p;

	t_join(path, sizeof(path), root, rel);
	for (p = path + strlen(root) + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		ck_assert_msg(mkdir(path, 0755) == 0 || errno == EEXIST,
			      "mkdir %s: %s", path, strerror(errno));
		*p = c;
		if (c == '\0')
			break;
	}
}

/* Write @content to the file @rel under @root, creating its directories. */
static void t_put(const char *root, const char *rel, const char *content)
{
	char path[PATH_MAX], dir[PATH_MAX];
	const char *slash = strrchr(rel, '/');
	FILE *f;

	if (slash) {
		ck_assert((size_t)(slash - rel) < sizeof(dir));
		memcpy(dir, rel, (size_t)(slash - rel));
		dir[slash - rel] = '\0';
		t_mkdirs(root, dir);
	}
	t_join(path, sizeof(path), root, rel);
	f = fopen(path, "we");
	ck_assert_msg(f != NULL, "fopen %s: %s", path, strerror(errno));
	ck_assert(fputs(content, f) >= 0);
	ck_assert(fclose(f) == 0);
}

/* Write cpu<@cpu>/topology/<@name> in the fake sysfs CPU directory @root. */
static void t_topo(const char *root, unsigned cpu, const char *name,
		   const char *content)
{
	char rel[128];

	snprintf(rel, sizeof(rel), "cpu%u/topology/%s", cpu, name);
	t_put(root, rel, content);
}

/* An empty cpu<@cpu> directory, as on a kernel without topology files. */
static void t_cpu_dir(const char *root, unsigned cpu)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "cpu%u", cpu);
	t_mkdirs(root, rel);
}

/* Four CPUs in two SMT pairs, (0,2) and (1,3), as x86 numbers them. */
static void t_smt4(const char *root, const char *name)
{
	t_topo(root, 0, name, "0,2\n");
	t_topo(root, 1, name, "1,3\n");
	t_topo(root, 2, name, "0,2\n");
	t_topo(root, 3, name, "1,3\n");
}

/* A static cpu_set_t holding the first @n CPUs of @cpus. */
static cpu_set_t t_mask(const unsigned *cpus, size_t n)
{
	cpu_set_t set;
	size_t i;

	CPU_ZERO(&set);
	for (i = 0; i < n; i++)
		CPU_SET(cpus[i], &set);
	return set;
}

static unsigned t_cores(const char *root, const unsigned *cpus, size_t n)
{
	cpu_set_t set = t_mask(cpus, n);

	return rp__topology_cores(&set, sizeof(set), root);
}

#define T_CORES(root, ...)                                                  \
	t_cores((root), (const unsigned[]){ __VA_ARGS__ },                  \
		sizeof((const unsigned[]){ __VA_ARGS__ }) / sizeof(unsigned))

/*
 * A fake /proc/self/cgroup at <root>/cgroup whose unified line names @path,
 * and an empty cgroup root at <root>/cg.  Returns nothing; the callers build
 * the two paths with t_join().
 */
static void t_cgroup(const char *root, const char *path)
{
	char line[PATH_MAX];

	snprintf(line, sizeof(line), "0::%s\n", path);
	t_put(root, "cgroup", line);
	t_mkdirs(root, "cg");
}

static unsigned t_cap(const char *root)
{
	char proc[PATH_MAX], cg[PATH_MAX];

	t_join(proc, sizeof(proc), root, "cgroup");
	t_join(cg, sizeof(cg), root, "cg");
	return rp__topology_cgroup_cap(proc, cg);
}

/* How many CPUs the calling thread may run on, for any number of CPUs. */
static unsigned t_affinity_count(void)
{
	size_t n = CPU_SETSIZE;
	unsigned count = 0;

	for (; n <= (1u << 22); n *= 2) {
		cpu_set_t *set = CPU_ALLOC(n);

		ck_assert_ptr_nonnull(set);
		if (sched_getaffinity(0, CPU_ALLOC_SIZE(n), set) == 0) {
			count = (unsigned)CPU_COUNT_S(CPU_ALLOC_SIZE(n), set);
			CPU_FREE(set);
			break;
		}
		CPU_FREE(set);
		ck_assert_int_eq(errno, EINVAL);
	}
	ck_assert_uint_gt(count, 0);
	return count;
}

/* ------------------------------------------------------------------ core */

START_TEST(test_topology_cores_smt_full)
{
	char root[PATH_MAX];

	t_tree(root, sizeof(root));
	t_smt4(root, "core_cpus_list");
	ck_assert_uint_eq(T_CORES(root, 0, 1, 2, 3), 2);
}
END_TEST

START_TEST(test_topology_cores_smt_siblings)
{
	char root[PATH_MAX];

	/* Two threads of one core are one core, whatever their numbers. */
	t_tree(root, sizeof(root));
	t_smt4(root, "core_cpus_list");
	ck_assert_uint_eq(T_CORES(root, 0, 2), 1);
	ck_assert_uint_eq(T_CORES(root, 3, 1), 1);
}
END_TEST

START_TEST(test_topology_cores_smt_distinct)
{
	char root[PATH_MAX];

	t_tree(root, sizeof(root));
	t_smt4(root, "core_cpus_list");
	ck_assert_uint_eq(T_CORES(root, 0, 1), 2);
	ck_assert_uint_eq(T_CORES(root, 2), 1);
}
END_TEST

START_TEST(test_topology_cores_no_smt)
{
	char root[PATH_MAX], list[16];
	unsigned cpu;

	t_tree(root, sizeof(root));
	for (cpu = 0; cpu < 8; cpu++) {
		snprintf(list, sizeof(list), "%u\n", cpu);
		t_topo(root, cpu, "core_cpus_list", list);
	}
	ck_assert_uint_eq(T_CORES(root, 0, 1, 2, 3, 4, 5, 6, 7), 8);
}
END_TEST

START_TEST(test_topology_cores_ranges)
{
	char root[PATH_MAX];
	unsigned cpu;

	/* SMT4 cores whose lists are ranges, as POWER and some Arm show them. */
	t_tree(root, sizeof(root));
	for (cpu = 0; cpu < 4; cpu++)
		t_topo(root, cpu, "core_cpus_list", "0-3\n");
	for (cpu = 4; cpu < 8; cpu++)
		t_topo(root, cpu, "core_cpus_list", "4-7\n");
	ck_assert_uint_eq(T_CORES(root, 0, 1, 2, 3, 4, 5, 6, 7), 2);
	ck_assert_uint_eq(T_CORES(root, 1, 2, 5), 2);
	ck_assert_uint_eq(T_CORES(root, 6), 1);
}
END_TEST

START_TEST(test_topology_cores_mixed_list)
{
	char root[PATH_MAX];

	/* Ranges and single CPUs mixed, blanks as in the ABI document. */
	t_tree(root, sizeof(root));
	t_topo(root, 1, "core_cpus_list", "1-2, 9\n");
	t_topo(root, 2, "core_cpus_list", "1-2,9");
	t_topo(root, 9, "core_cpus_list", " 9,1-2 \n");
	t_topo(root, 5, "core_cpus_list", "5");
	ck_assert_uint_eq(T_CORES(root, 1, 2, 9), 1);
	ck_assert_uint_eq(T_CORES(root, 1, 2, 5, 9), 2);
}
END_TEST

START_TEST(test_topology_cgroup_cap_unlimited)
{
	char root[PATH_MAX];

	t_tree(root, sizeof(root));
	t_cgroup(root, "/app.slice/svc");
	t_put(root, "cg/app.slice/svc/cpu.max", "max 100000\n");
	t_put(root, "cg/app.slice/cpu.max", "max 100000\n");
	ck_assert_uint_eq(t_cap(root), 0);
}
END_TEST

START_TEST(test_topology_cgroup_cap_fraction)
{
	char root[PATH_MAX];

	/* 1.5 CPUs of time is spread best over two running threads. */
	t_tree(root, sizeof(root));
	t_cgroup(root, "/app.slice/svc");
	t_put(root, "cg/app.slice/svc/cpu.max", "150000 100000\n");
	t_put(root, "cg/app.slice/cpu.max", "max 100000\n");
	ck_assert_uint_eq(t_cap(root), 2);
}
END_TEST

START_TEST(test_topology_cgroup_cap_below_one)
{
	char root[PATH_MAX];

	t_tree(root, sizeof(root));
	t_cgroup(root, "/svc");
	t_put(root, "cg/svc/cpu.max", "50000 100000\n");
	ck_assert_uint_eq(t_cap(root), 1);
}
END_TEST

START_TEST(test_topology_cgroup_cap_whole)
{
	char root[PATH_MAX];

	t_tree(root, sizeof(root));
	t_cgroup(root, "/svc");
	t_put(root, "cg/svc/cpu.max", "400000 100000\n");
	ck_assert_uint_eq(t_cap(root), 4);
}
END_TEST

START_TEST(test_topology_cgroup_cap_parent_lower)
{
	char root[PATH_MAX];

	/* A parent's quota limits its children, whatever theirs say. */
	t_tree(root, sizeof(root));
	t_cgroup(root, "/kubepods/pod1/ctr");
	t_put(root, "cg/kubepods/pod1/ctr/cpu.max", "400000 100000\n");
	t_put(root, "cg/kubepods/pod1/cpu.max", "250000 100000\n");
	t_put(root, "cg/kubepods/cpu.max", "max 100000\n");
	ck_assert_uint_eq(t_cap(root), 3);
}
END_TEST

START_TEST(test_topology_cgroup_cap_child_lower)
{
	char root[PATH_MAX];

	t_tree(root, sizeof(root));
	t_cgroup(root, "/kubepods/pod1/ctr");
	t_put(root, "cg/kubepods/pod1/ctr/cpu.max", "100000 100000\n");
	t_put(root, "cg/kubepods/pod1/cpu.max", "250000 100000\n");
	ck_assert_uint_eq(t_cap(root), 1);
}
END_TEST

START_TEST(test_topology_cgroup_cap_root)
{
	char root[PATH_MAX];

	/*
	 * Inside a cgroup namespace the process sees "0::/" and the
	 * container's own group mounted as the root, cpu.max included.
	 */
	t_tree(root, sizeof(root));
	t_cgroup(root, "/");
	t_put(root, "cg/cpu.max", "300000 100000\n");
	ck_assert_uint_eq(t_cap(root), 3);
}
END_TEST

START_TEST(test_topology_cgroup_cap_hybrid)
{
	char root[PATH_MAX];

	/* Hybrid mode: v1 lines around the unified one. */
	t_tree(root, sizeof(root));
	t_put(root, "cgroup",
	      "12:cpu,cpuacct:/user.slice\n"
	      "1:name=systemd:/user.slice/session-1.scope\n"
	      "0::/user.slice/session-1.scope\n"
	      "4:memory:/user.slice\n");
	t_put(root, "cg/user.slice/session-1.scope/cpu.max", "200000 50000\n");
	ck_assert_uint_eq(t_cap(root), 4);
}
END_TEST

START_TEST(test_topology_parse_env_valid)
{
	ck_assert_uint_eq(rp__topology_parse_env("4"), 4);
	ck_assert_uint_eq(rp__topology_parse_env("1"), 1);
	ck_assert_uint_eq(rp__topology_parse_env("64"), 64);
	ck_assert_uint_eq(rp__topology_parse_env("007"), 7);
}
END_TEST

START_TEST(test_topology_concurrency_env)
{
	/* Each test runs in its own process, so setenv() stays local. */
	ck_assert_int_eq(setenv("RINGPOOL_CONCURRENCY", "3", 1), 0);
	ck_assert_uint_eq(rp__topology_concurrency(), 3);
	ck_assert_int_eq(setenv("RINGPOOL_CONCURRENCY", "4096", 1), 0);
	ck_assert_uint_eq(rp__topology_concurrency(), 4096);
	unsetenv("RINGPOOL_CONCURRENCY");
}
END_TEST

START_TEST(test_topology_concurrency_default)
{
	unsigned c, cores, cap, expect, ncpu = t_affinity_count();
	size_t n = CPU_SETSIZE;

	ck_assert_int_eq(unsetenv("RINGPOOL_CONCURRENCY"), 0);
	c = rp__topology_concurrency();
	ck_assert_uint_ge(c, 1);
	ck_assert_uint_le(c, ncpu);

	/* It is exactly the composition of the parts tested above. */
	while (n < ncpu)
		n *= 2;
	cpu_set_t *set = CPU_ALLOC(n);

	ck_assert_ptr_nonnull(set);
	ck_assert_int_eq(sched_getaffinity(0, CPU_ALLOC_SIZE(n), set), 0);
	cores = rp__topology_cores(set, CPU_ALLOC_SIZE(n), "/sys/devices/system/cpu");
	CPU_FREE(set);
	cap = rp__topology_cgroup_cap("/proc/self/cgroup", "/sys/fs/cgroup");
	expect = cap && cap < cores ? cap : cores;
	ck_assert_uint_eq(c, expect ? expect : 1);
}
END_TEST

/* ---------------------------------------------------------------- errors */

START_TEST(test_topology_cores_fallback_siblings)
{
	char root[PATH_MAX];

	/* Before Linux 5.3 the same list is called thread_siblings_list. */
	t_tree(root, sizeof(root));
	t_smt4(root, "thread_siblings_list");
	ck_assert_uint_eq(T_CORES(root, 0, 1, 2, 3), 2);
	ck_assert_uint_eq(T_CORES(root, 0, 2), 1);
	ck_assert_uint_eq(T_CORES(root, 0, 1), 2);
}
END_TEST

START_TEST(test_topology_cores_no_topology)
{
	char root[PATH_MAX];
	unsigned cpu;

	/* Without topology files every CPU counts as a core of its own. */
	t_tree(root, sizeof(root));
	for (cpu = 0; cpu < 4; cpu++)
		t_cpu_dir(root, cpu);
	ck_assert_uint_eq(T_CORES(root, 0, 1, 2, 3), 4);
	ck_assert_uint_eq(T_CORES(root, 0, 2), 2);
}
END_TEST

START_TEST(test_topology_cores_no_sysfs)
{
	char root[PATH_MAX], missing[PATH_MAX];
	cpu_set_t set = t_mask((const unsigned[]){ 0, 1, 5 }, 3);

	t_tree(root, sizeof(root));
	t_join(missing, sizeof(missing), root, "nonexistent");
	ck_assert_uint_eq(rp__topology_cores(&set, sizeof(set), missing), 3);
	ck_assert_uint_eq(rp__topology_cores(&set, sizeof(set), NULL), 3);
	/* A regular file where the directory should be. */
	t_put(root, "file", "0\n");
	t_join(missing, sizeof(missing), root, "file");
	ck_assert_uint_eq(rp__topology_cores(&set, sizeof(set), missing), 3);
}
END_TEST

START_TEST(test_topology_cores_bad_list)
{
	static const char *const bad[] = {
		"", "\n", "abc\n", "0-\n", "-2\n", "2-0\n", "0,,2\n", "0,2,\n",
		"0 2\n", "0;2\n", "0-2-3\n", "0x2\n", "+0,2\n", "0,2\nx",
	};
	char root[PATH_MAX];
	size_t i;

	/* A damaged core_cpus_list is passed over for thread_siblings_list. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t_tree(root, sizeof(root));
		t_topo(root, 0, "core_cpus_list", bad[i]);
		t_topo(root, 2, "core_cpus_list", bad[i]);
		t_topo(root, 0, "thread_siblings_list", "0,2\n");
		t_topo(root, 2, "thread_siblings_list", "0,2\n");
		ck_assert_msg(T_CORES(root, 0, 2) == 1, "list \"%s\"", bad[i]);
	}
	/* Damaged both ways, each CPU is its own core. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t_tree(root, sizeof(root));
		t_topo(root, 0, "core_cpus_list", bad[i]);
		t_topo(root, 2, "core_cpus_list", bad[i]);
		t_topo(root, 0, "thread_siblings_list", bad[i]);
		t_topo(root, 2, "thread_siblings_list", bad[i]);
		ck_assert_msg(T_CORES(root, 0, 2) == 2, "list \"%s\"", bad[i]);
	}
}
END_TEST

START_TEST(test_topology_cores_foreign_list)
{
	char root[PATH_MAX];

	/*
	 * CPU 1's list does not contain CPU 1, so it is damaged; trusting it
	 * would fold CPU 1 into CPU 0's core.
	 */
	t_tree(root, sizeof(root));
	t_topo(root, 0, "core_cpus_list", "0\n");
	t_topo(root, 1, "core_cpus_list", "0\n");
	ck_assert_uint_eq(T_CORES(root, 0, 1), 2);
}
END_TEST

START_TEST(test_topology_cores_embedded_nul)
{
	char root[PATH_MAX], path[PATH_MAX];
	FILE *f;

	/*
	 * "1\0,0" must not pass for "1": the NUL hides the rest, and reading
	 * only the front would split CPU 1 from its core.
	 */
	t_tree(root, sizeof(root));
	t_topo(root, 0, "core_cpus_list", "0-1\n");
	t_topo(root, 1, "thread_siblings_list", "0-1\n");
	t_join(path, sizeof(path), root, "cpu1/topology/core_cpus_list");
	f = fopen(path, "we");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite("1\0,0\n", 1, 5, f), 5);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_uint_eq(T_CORES(root, 0, 1), 1);
}
END_TEST

START_TEST(test_topology_cores_list_is_dir)
{
	char root[PATH_MAX];

	t_tree(root, sizeof(root));
	t_mkdirs(root, "cpu0/topology/core_cpus_list");
	t_topo(root, 0, "thread_siblings_list", "0-1\n");
	t_topo(root, 1, "core_cpus_list", "0-1\n");
	ck_assert_uint_eq(T_CORES(root, 0, 1), 1);
}
END_TEST

START_TEST(test_topology_cores_empty_mask)
{
	char root[PATH_MAX];
	cpu_set_t set;

	t_tree(root, sizeof(root));
	t_smt4(root, "core_cpus_list");
	CPU_ZERO(&set);
	ck_assert_uint_eq(rp__topology_cores(&set, sizeof(set), root), 0);
	ck_assert_uint_eq(rp__topology_cores(NULL, sizeof(set), root), 0);
	CPU_SET(0, &set);
	ck_assert_uint_eq(rp__topology_cores(&set, 0, root), 0);
}
END_TEST

START_TEST(test_topology_cgroup_cap_v1)
{
	char root[PATH_MAX];

	/* Pure cgroup v1: no "0::" line, so no v2 quota to read. */
	t_tree(root, sizeof(root));
	t_put(root, "cgroup",
	      "12:cpu,cpuacct:/user.slice\n"
	      "1:name=systemd:/user.slice/session-1.scope\n");
	t_put(root, "cg/cpu.max", "100000 100000\n");
	t_put(root, "cg/user.slice/cpu.max", "100000 100000\n");
	ck_assert_uint_eq(t_cap(root), 0);
}
END_TEST

START_TEST(test_topology_cgroup_cap_no_cpu_max)
{
	char root[PATH_MAX];

	/* The cpu controller is not enabled: the directories have no cpu.max. */
	t_tree(root, sizeof(root));
	t_cgroup(root, "/user.slice/session-1.scope");
	t_mkdirs(root, "cg/user.slice/session-1.scope");
	ck_assert_uint_eq(t_cap(root), 0);
}
END_TEST

START_TEST(test_topology_cgroup_cap_missing_dirs)
{
	char root[PATH_MAX];

	/* Our group's directory is absent; its parent's quota still counts. */
	t_tree(root, sizeof(root));
	t_cgroup(root, "/a/b/c");
	t_put(root, "cg/a/cpu.max", "200000 100000\n");
	ck_assert_uint_eq(t_cap(root), 2);
}
END_TEST

START_TEST(test_topology_cgroup_cap_no_files)
{
	char root[PATH_MAX], proc[PATH_MAX], cg[PATH_MAX];

	t_tree(root, sizeof(root));
	t_join(proc, sizeof(proc), root, "cgroup");
	t_join(cg, sizeof(cg), root, "cg");
	/* Neither the cgroup file nor the cgroup root exists. */
	ck_assert_uint_eq(rp__topology_cgroup_cap(proc, cg), 0);
	/* The cgroup file exists, the root does not. */
	t_put(root, "cgroup", "0::/a\n");
	ck_assert_uint_eq(rp__topology_cgroup_cap(proc, cg), 0);
	/* The root exists, the cgroup file is empty. */
	t_put(root, "cg/a/cpu.max", "100000 100000\n");
	t_put(root, "cgroup", "");
	ck_assert_uint_eq(rp__topology_cgroup_cap(proc, cg), 0);
	ck_assert_uint_eq(rp__topology_cgroup_cap(NULL, cg), 0);
	ck_assert_uint_eq(rp__topology_cgroup_cap(proc, NULL), 0);
}
END_TEST

START_TEST(test_topology_cgroup_cap_bad_cpu_max)
{
	static const char *const bad[] = {
		"", "\n", "abc\n", "150000\n", "0 100000\n", "150000 0\n",
		"-1 100000\n", "150000 -100000\n", "150000 100000 7\n",
		"150000,100000\n", "1.5 1\n", "max\n", "maximum 100000\n",
		"0x10 100000\n", "150000 100000x\n",
	};
	char root[PATH_MAX];
	size_t i;

	/* A cpu.max that cannot be read sets no limit... */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t_tree(root, sizeof(root));
		t_cgroup(root, "/svc");
		t_put(root, "cg/svc/cpu.max", bad[i]);
		ck_assert_msg(t_cap(root) == 0, "cpu.max \"%s\"", bad[i]);
	}
	/* ...and does not hide a valid one above it. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t_tree(root, sizeof(root));
		t_cgroup(root, "/svc/sub");
		t_put(root, "cg/svc/sub/cpu.max", bad[i]);
		t_put(root, "cg/svc/cpu.max", "700000 100000\n");
		ck_assert_msg(t_cap(root) == 7, "cpu.max \"%s\"", bad[i]);
	}
}
END_TEST

START_TEST(test_topology_cgroup_cap_outside_namespace)
{
	char root[PATH_MAX];

	/*
	 * A group outside our cgroup namespace shows as "/../x"; the root we
	 * see is not one of its ancestors, so nothing we can read applies.
	 */
	t_tree(root, sizeof(root));
	t_cgroup(root, "/../other");
	t_put(root, "cg/cpu.max", "100000 100000\n");
	t_put(root, "cpu.max", "100000 100000\n");
	t_put(root, "other/cpu.max", "100000 100000\n");
	ck_assert_uint_eq(t_cap(root), 0);
	t_cgroup(root, "/a/../..");
	ck_assert_uint_eq(t_cap(root), 0);
}
END_TEST

START_TEST(test_topology_parse_env_invalid)
{
	ck_assert_uint_eq(rp__topology_parse_env("0"), 0);
	ck_assert_uint_eq(rp__topology_parse_env("-1"), 0);
	ck_assert_uint_eq(rp__topology_parse_env("4x"), 0);
	ck_assert_uint_eq(rp__topology_parse_env(""), 0);
	ck_assert_uint_eq(rp__topology_parse_env(NULL), 0);
	ck_assert_uint_eq(rp__topology_parse_env(" 4"), 0);
	ck_assert_uint_eq(rp__topology_parse_env("4 "), 0);
	ck_assert_uint_eq(rp__topology_parse_env("4\n"), 0);
	ck_assert_uint_eq(rp__topology_parse_env("+4"), 0);
	ck_assert_uint_eq(rp__topology_parse_env("0x10"), 0);
	ck_assert_uint_eq(rp__topology_parse_env("4.0"), 0);
}
END_TEST

START_TEST(test_topology_concurrency_env_invalid)
{
	unsigned unset;

	/* An invalid value is ignored exactly as if the variable were unset. */
	ck_assert_int_eq(unsetenv("RINGPOOL_CONCURRENCY"), 0);
	unset = rp__topology_concurrency();
	ck_assert_int_eq(setenv("RINGPOOL_CONCURRENCY", "4x", 1), 0);
	ck_assert_uint_eq(rp__topology_concurrency(), unset);
	ck_assert_int_eq(setenv("RINGPOOL_CONCURRENCY", "0", 1), 0);
	ck_assert_uint_eq(rp__topology_concurrency(), unset);
	ck_assert_int_eq(setenv("RINGPOOL_CONCURRENCY", "99999", 1), 0);
	ck_assert_uint_eq(rp__topology_concurrency(), unset);
	unsetenv("RINGPOOL_CONCURRENCY");
}
END_TEST

/* ---------------------------------------------------------------- limits */

START_TEST(test_topology_parse_env_bounds)
{
	ck_assert_uint_eq(rp__topology_parse_env("4096"), 4096);
	ck_assert_uint_eq(rp__topology_parse_env("0004096"), 4096);
	ck_assert_uint_eq(rp__topology_parse_env("4097"), 0);
	ck_assert_uint_eq(rp__topology_parse_env("99999"), 0);
	ck_assert_uint_eq(rp__topology_parse_env("4294967300"), 0);
	ck_assert_uint_eq(rp__topology_parse_env("18446744073709551617"), 0);
	ck_assert_uint_eq(rp__topology_parse_env("99999999999999999999999999"), 0);
}
END_TEST

START_TEST(test_topology_cores_beyond_1024)
{
	char root[PATH_MAX];
	size_t size = CPU_ALLOC_SIZE(4096);
	cpu_set_t *set = CPU_ALLOC(4096);

	/* CPU numbers past a static cpu_set_t need a CPU_ALLOC() set. */
	ck_assert_ptr_nonnull(set);
	t_tree(root, sizeof(root));
	t_topo(root, 1500, "core_cpus_list", "1500,3500\n");
	t_topo(root, 3500, "core_cpus_list", "1500,3500\n");
	t_topo(root, 4095, "core_cpus_list", "4094-4095\n");
	CPU_ZERO_S(size, set);
	CPU_SET_S(1500, size, set);
	CPU_SET_S(3500, size, set);
	CPU_SET_S(4095, size, set);
	ck_assert_uint_eq(rp__topology_cores(set, size, root), 2);
	CPU_FREE(set);
}
END_TEST

START_TEST(test_topology_cores_many_cpus)
{
	char root[PATH_MAX], list[32];
	size_t size = CPU_ALLOC_SIZE(2048);
	cpu_set_t *set = CPU_ALLOC(2048);
	unsigned cpu;

	/* 2048 CPUs in SMT pairs (n, n + 1024), as on a large x86 box. */
	ck_assert_ptr_nonnull(set);
	t_tree(root, sizeof(root));
	CPU_ZERO_S(size, set);
	for (cpu = 0; cpu < 2048; cpu++) {
		snprintf(list, sizeof(list), "%u,%u\n", cpu % 1024, cpu % 1024 + 1024);
		t_topo(root, cpu, "core_cpus_list", list);
		CPU_SET_S(cpu, size, set);
	}
	ck_assert_uint_eq(rp__topology_cores(set, size, root), 1024);
	CPU_FREE(set);
}
END_TEST

START_TEST(test_topology_cores_huge_file)
{
	char root[PATH_MAX], *big;
	size_t i, len = 8192;

	/*
	 * A list too long for the reader is refused whole, never parsed in
	 * part, so the fallback file decides.
	 */
	big = malloc(len + 1);
	ck_assert_ptr_nonnull(big);
	for (i = 0; i + 4 <= len; i += 4)
		memcpy(big + i, "0,2,", 4);
	memcpy(big + len - 4, "0,2\n", 4);
	big[len] = '\0';
	t_tree(root, sizeof(root));
	t_topo(root, 0, "core_cpus_list", big);
	t_topo(root, 2, "core_cpus_list", big);
	free(big);
	ck_assert_uint_eq(T_CORES(root, 0, 2), 2);
	t_topo(root, 0, "thread_siblings_list", "0,2\n");
	t_topo(root, 2, "thread_siblings_list", "0,2\n");
	ck_assert_uint_eq(T_CORES(root, 0, 2), 1);
}
END_TEST

START_TEST(test_topology_cores_number_overflow)
{
	char root[PATH_MAX];

	t_tree(root, sizeof(root));
	t_topo(root, 0, "core_cpus_list", "0,18446744073709551616\n");
	t_topo(root, 1, "core_cpus_list", "0-99999999999999999999\n");
	t_topo(root, 2, "core_cpus_list", "0-4294967298\n");
	ck_assert_uint_eq(T_CORES(root, 0, 1, 2), 3);
}
END_TEST

START_TEST(test_topology_cgroup_cap_huge_quota)
{
	char root[PATH_MAX];

	/* A cap beyond unsigned is clamped, not wrapped to a small number. */
	t_tree(root, sizeof(root));
	t_cgroup(root, "/svc");
	t_put(root, "cg/svc/cpu.max", "18446744073709551615 1\n");
	ck_assert_uint_eq(t_cap(root), UINT_MAX);
	t_put(root, "cg/svc/cpu.max", "4294967297 1\n");
	ck_assert_uint_eq(t_cap(root), UINT_MAX);
	/* A quota past 64 bits is not a number the kernel writes. */
	t_put(root, "cg/svc/cpu.max", "18446744073709551616 100000\n");
	ck_assert_uint_eq(t_cap(root), 0);
	/* The smallest quota the kernel accepts, 1 ms, on the longest period. */
	t_put(root, "cg/svc/cpu.max", "1000 1000000\n");
	ck_assert_uint_eq(t_cap(root), 1);
}
END_TEST

START_TEST(test_topology_cgroup_cap_deep)
{
	char root[PATH_MAX], rel[PATH_MAX], path[256];
	unsigned level;
	size_t len = 0;

	/* Sixteen levels, each with a quota; the tightest is in the middle. */
	t_tree(root, sizeof(root));
	path[0] = '\0';
	for (level = 0; level < 16; level++) {
		len += (size_t)snprintf(path + len, sizeof(path) - len, "/l%u", level);
		snprintf(rel, sizeof(rel), "cg%s/cpu.max", path);
		t_put(root, rel, level == 7 ? "120000 100000\n" : "900000 100000\n");
	}
	t_cgroup(root, path);
	ck_assert_uint_eq(t_cap(root), 2);
}
END_TEST

START_TEST(test_topology_cgroup_cap_slashes)
{
	char root[PATH_MAX], proc[PATH_MAX], cg[PATH_MAX];

	/* A trailing slash on the root or on the group changes nothing. */
	t_tree(root, sizeof(root));
	t_cgroup(root, "/a/b/");
	t_put(root, "cg/a/cpu.max", "300000 100000\n");
	t_join(proc, sizeof(proc), root, "cgroup");
	t_join(cg, sizeof(cg), root, "cg/");
	ck_assert_uint_eq(rp__topology_cgroup_cap(proc, cg), 3);
	t_join(cg, sizeof(cg), root, "cg");
	ck_assert_uint_eq(rp__topology_cgroup_cap(proc, cg), 3);
}
END_TEST

START_TEST(test_topology_cgroup_cap_long_lines)
{
	char root[PATH_MAX];
	size_t len = 20000;
	char *text = malloc(len + 64);

	/* A v1 line far longer than any fixed buffer comes first. */
	ck_assert_ptr_nonnull(text);
	memcpy(text, "5:cpuset:/", 10);
	memset(text + 10, 'x', len - 10);
	strcpy(text + len, "\n0::/svc\n");
	t_tree(root, sizeof(root));
	t_put(root, "cgroup", text);
	free(text);
	t_put(root, "cg/svc/cpu.max", "200000 100000\n");
	ck_assert_uint_eq(t_cap(root), 2);
}
END_TEST

static Suite *topology_suite(void)
{
	Suite *s = suite_create("topology");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_unchecked_fixture(tc, t_base_setup, t_base_teardown);
	tcase_add_test(tc, test_topology_cores_smt_full);
	tcase_add_test(tc, test_topology_cores_smt_siblings);
	tcase_add_test(tc, test_topology_cores_smt_distinct);
	tcase_add_test(tc, test_topology_cores_no_smt);
	tcase_add_test(tc, test_topology_cores_ranges);
	tcase_add_test(tc, test_topology_cores_mixed_list);
	tcase_add_test(tc, test_topology_cgroup_cap_unlimited);
	tcase_add_test(tc, test_topology_cgroup_cap_fraction);
	tcase_add_test(tc, test_topology_cgroup_cap_below_one);
	tcase_add_test(tc, test_topology_cgroup_cap_whole);
	tcase_add_test(tc, test_topology_cgroup_cap_parent_lower);
	tcase_add_test(tc, test_topology_cgroup_cap_child_lower);
	tcase_add_test(tc, test_topology_cgroup_cap_root);
	tcase_add_test(tc, test_topology_cgroup_cap_hybrid);
	tcase_add_test(tc, test_topology_parse_env_valid);
	tcase_add_test(tc, test_topology_concurrency_env);
	tcase_add_test(tc, test_topology_concurrency_default);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_unchecked_fixture(tc, t_base_setup, t_base_teardown);
	tcase_add_test(tc, test_topology_cores_fallback_siblings);
	tcase_add_test(tc, test_topology_cores_no_topology);
	tcase_add_test(tc, test_topology_cores_no_sysfs);
	tcase_add_test(tc, test_topology_cores_bad_list);
	tcase_add_test(tc, test_topology_cores_foreign_list);
	tcase_add_test(tc, test_topology_cores_embedded_nul);
	tcase_add_test(tc, test_topology_cores_list_is_dir);
	tcase_add_test(tc, test_topology_cores_empty_mask);
	tcase_add_test(tc, test_topology_cgroup_cap_v1);
	tcase_add_test(tc, test_topology_cgroup_cap_no_cpu_max);
	tcase_add_test(tc, test_topology_cgroup_cap_missing_dirs);
	tcase_add_test(tc, test_topology_cgroup_cap_no_files);
	tcase_add_test(tc, test_topology_cgroup_cap_bad_cpu_max);
	tcase_add_test(tc, test_topology_cgroup_cap_outside_namespace);
	tcase_add_test(tc, test_topology_parse_env_invalid);
	tcase_add_test(tc, test_topology_concurrency_env_invalid);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_unchecked_fixture(tc, t_base_setup, t_base_teardown);
	/* 2048 CPU directories take a while on a slow or busy disk. */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_topology_parse_env_bounds);
	tcase_add_test(tc, test_topology_cores_beyond_1024);
	tcase_add_test(tc, test_topology_cores_many_cpus);
	tcase_add_test(tc, test_topology_cores_huge_file);
	tcase_add_test(tc, test_topology_cores_number_overflow);
	tcase_add_test(tc, test_topology_cgroup_cap_huge_quota);
	tcase_add_test(tc, test_topology_cgroup_cap_deep);
	tcase_add_test(tc, test_topology_cgroup_cap_slashes);
	tcase_add_test(tc, test_topology_cgroup_cap_long_lines);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(topology_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
