/* SPDX-License-Identifier: MIT */
/* Helpers of the standalone benchmark programs (standalone.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "standalone.h"

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

uint64_t cpu_ns(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * NS +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000;
}

int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

bool in_list(const char *list, const char *name)
{
	size_t l = strlen(name);

	if (!list)
		return true;
	for (const char *p = list; (p = strstr(p, name)); p += l)
		if ((p == list || p[-1] == ',') && (p[l] == ',' || !p[l]))
			return true;
	return false;
}

bool parse_uint(const char *s, unsigned *v)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(s, &end, 10);
	if (errno || end == s || *end || x > UINT_MAX)
		return false;
	*v = (unsigned)x;
	return true;
}

/* The content of the file: each 8-byte word, a hash of its offset (never 0). */
uint64_t pattern(uint64_t off)
{
	uint64_t z = off + 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (z ^ (z >> 31)) | 1;
}

/* Read @len bytes from @fd, waiting at most @secs. */
int read_within(int fd, void *buf, size_t len, unsigned secs)
{
	uint64_t end = now_ns() + secs * NS;
	size_t got = 0;

	while (got < len) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ns();
		ssize_t k;

		if (now >= end)
			return -ETIMEDOUT;
		if (poll(&pf, 1, (int)((end - now) / MS) + 1) <= 0)
			continue;
		k = read(fd, (char *)buf + got, len - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -EPIPE;
		got += (size_t)k;
	}
	return 0;
}

/* The thread count of process @fd's /proc/PID/stat, or 0. */
unsigned stat_threads(int fd)
{
	char buf[1024], *p;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	unsigned threads;

	if (n <= 0)
		return 0;
	buf[n] = 0;
	/* The command name may hold spaces; fields count from its ')'. */
	if (!(p = strrchr(buf, ')')) ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
		   "%*d %*d %*d %*d %u", &threads) != 1)
		return 0;
	return threads;
}

void progress(const char *fmt, ...)
{
	va_list ap;

	if (!isatty(STDERR_FILENO))
		return;
	va_start(ap, fmt);
	fprintf(stderr, "\r\033[K");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/* Make the file, or check that the one there is ours: 1 GiB, our pattern
 * at its first, middle and last word.  @how says which. */
int prepare_file(const char *dir, const char *path, char *how, size_t howlen)
{
	char tmp[PATH_MAX + 8];
	struct stat sb;
	uint64_t t0, *buf;
	int fd;

	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	if (!stat(path, &sb) && (uint64_t)sb.st_size == FILE_SIZE &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		static const uint64_t at[] = { 0, FILE_SIZE / 2 + 8, FILE_SIZE - 8 };
		bool ok = true;

		for (size_t i = 0; i < 3; i++) {
			uint64_t w;

			ok &= pread(fd, &w, 8, (off_t)at[i]) == 8 && w == pattern(at[i]);
		}
		close(fd);
		if (ok) {
			snprintf(how, howlen, "reused");
			return 0;
		}
	}
	if (!(buf = malloc(CHUNK)))
		return -ENOMEM;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		free(buf);
		return -errno;
	}
	t0 = now_ns();
	for (uint64_t off = 0; off < FILE_SIZE; off += CHUNK) {
		for (size_t i = 0; i < CHUNK / 8; i++)
			buf[i] = pattern(off + 8 * i);
		for (size_t done_ = 0; done_ < CHUNK;) {
			ssize_t k = pwrite(fd, (char *)buf + done_, CHUNK - done_,
					   (off_t)(off + done_));

			if (k <= 0) {
				int e = k < 0 ? errno : ENOSPC;

				close(fd);
				unlink(tmp);
				free(buf);
				return -e;
			}
			done_ += (size_t)k;
		}
	}
	free(buf);
	if (fsync(fd) || close(fd) || rename(tmp, path))
		return -errno;
	snprintf(how, howlen, "made now (written and synced in %.1f s)",
		 (double)(now_ns() - t0) / NS);
	return 0;
}
