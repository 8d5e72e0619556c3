/* SPDX-License-Identifier: MIT */
/*
 * confine - run a program the way our users' servers run: with io_uring
 * refused by a seccomp filter, as container profiles do, and/or as user
 * nobody with RLIMIT_MEMLOCK 64 KiB and RLIMIT_NOFILE 1024.
 *
 *	confine [--no-uring[=EPERM|ENOSYS]] [--nobody] [--] program [args...]
 *
 * The filter makes io_uring_setup, io_uring_enter and io_uring_register
 * fail with the errno given (EPERM by default); it is inherited across
 * fork and exec, so a whole test suite runs under it:
 * `make check-confined` runs `make check` once under each confinement.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helpers.h"

static int usage(void)
{
	fprintf(stderr, "usage: confine [--no-uring[=EPERM|ENOSYS]] [--nobody] [--] program "
			"[args...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const long uring[] = { __NR_io_uring_setup, __NR_io_uring_enter,
				      __NR_io_uring_register };
	bool nobody = false;
	int refuse = 0, i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (!strcmp(argv[i], "--nobody")) {
			nobody = true;
		} else if (!strcmp(argv[i], "--no-uring") || !strcmp(argv[i], "--no-uring=EPERM")) {
			refuse = EPERM;
		} else if (!strcmp(argv[i], "--no-uring=ENOSYS")) {
			refuse = ENOSYS;
		} else {
			return usage();
		}
	}
	if (i == argc)
		return usage();
	if (nobody && !t_drop_privileges()) {
		perror("confine: cannot become nobody with the small limits");
		return 125;
	}
	if (refuse && !t_seccomp_refuse(uring, 3, refuse, false)) {
		perror("confine: cannot install the seccomp filter");
		return 125;
	}
	execvp(argv[i], argv + i);
	fprintf(stderr, "confine: %s: %s\n", argv[i], strerror(errno));
	return 127;
}
