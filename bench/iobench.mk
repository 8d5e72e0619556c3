# W7, I/O objects: rp_io against a hinted rp_post, a fixed pthread pool,
# libuv's uv_fs_read and a bare liburing loop; and an rp_io echo server
# against epoll + a pthread pool (bench/iobench.c).  Included from
# Makefile.am after the bench section, whose EXTRA_PROGRAMS it extends.
EXTRA_PROGRAMS += bench/iobench
bench_iobench_SOURCES = bench/iobench.c bench/standalone.c bench/standalone.h
bench_iobench_CFLAGS = $(AM_CFLAGS)
bench_iobench_LDADD = lib/libringpool.la $(LIBURING_LIBS) $(PTHREAD_LIBS)
if BENCH_UV
bench_iobench_CFLAGS += $(UV_CFLAGS)
bench_iobench_LDADD += $(UV_LIBS)
endif

# The file it reads (1 GiB) is made once under --dir, /var/tmp/ringpool-w7
# by default, and kept for later runs.
bench-io: bench/iobench
	@mkdir -p bench-results
	./bench/iobench --out bench-results/w7.md
.PHONY: bench-io
