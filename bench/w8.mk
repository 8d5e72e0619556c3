# W8, one pool in place of three: a loopback HTTP/1.1 server whose /cpu,
# /db and /file requests run on three fixed pthread pools, one ringpool
# pool with three queues, a bare ringpool pool, one pthread pool of 64, or
# rp_io with a serial queue per connection; loaded by wrk
# (bench/w8server.c).  Included from Makefile.am after the bench section,
# whose EXTRA_PROGRAMS it extends.
EXTRA_PROGRAMS += bench/w8server
bench_w8server_SOURCES = bench/w8server.c bench/standalone.c bench/standalone.h
bench_w8server_CFLAGS = $(AM_CFLAGS)
bench_w8server_LDADD = lib/libringpool.la $(LIBURING_LIBS) $(PTHREAD_LIBS)
EXTRA_DIST += bench/w8.mk bench/w8plot.sh

# Needs wrk (Debian: apt-get install wrk).  The file it reads (1 GiB) is
# made once under --dir, /var/tmp/ringpool-w8 by default, and kept.  About
# 4½ minutes on the 2-vCPU development machine.
bench-server: bench/w8server
	@mkdir -p bench-results
	./bench/w8server --out bench-results/w8.md
	@$(SHELL) $(srcdir)/bench/w8plot.sh bench-results "$(GNUPLOT)"
.PHONY: bench-server
