#!/bin/sh
# SPDX-License-Identifier: MIT
#
# ablib.sh - compare builds of libringpool with one rpbench, interleaved.
#
#   bench/ablib.sh [-r ROUNDS] [-w WORKLOADS] [-b RPBENCH] [-o FILE]
#                  [-p "RPBENCH ARGS"]... LABEL=LIBDIR...
#
# Each round runs `rpbench --peers ringpool --reps 1 --workloads WORKLOADS`
# once per LABEL=LIBDIR (LD_LIBRARY_PATH=LIBDIR, so every build is timed by
# the same benchmark binary), then once per -p (a peer run in the same
# round, e.g. -p "--peers pthread --threads 32 --workloads W3,W9").  On a
# small, noisy machine only ratios within one interleaved run mean much:
# this is that run.  Every row goes to FILE (default ablib.out, one line
# per row: label, workload, the row as rpbench printed it); the summary
# printed at the end is the median of each row's columns over the rounds,
# with the first column's range.
#
# LIBDIR is a directory holding libringpool.so.0, e.g. the lib/.libs of a
# build of another commit:
#   git worktree add /tmp/base <commit>
#   (cd /tmp/base && autoreconf -fi && mkdir build && cd build &&
#    ../configure && make lib/libringpool.la)
#   bench/ablib.sh -r 5 -w W3,W9 base=/tmp/base/build/lib/.libs \
#       new=build/lib/.libs -p "--peers pthread --threads 32 --workloads W3,W9"
set -eu

rounds=5
workloads=W3,W9
rpbench=
out=ablib.out
npeers=0

usage() {
	echo "usage: ablib.sh [-r ROUNDS] [-w WORKLOADS] [-b RPBENCH] [-o FILE]" >&2
	echo "                [-p \"RPBENCH ARGS\"]... LABEL=LIBDIR..." >&2
	exit 2
}

while getopts r:w:b:o:p:h opt; do
	case $opt in
	r) rounds=$OPTARG ;;
	w) workloads=$OPTARG ;;
	b) rpbench=$OPTARG ;;
	o) out=$OPTARG ;;
	p) npeers=$((npeers + 1)); eval "peer_$npeers=\$OPTARG" ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
case $rounds in '' | *[!0-9]*) usage ;; esac

if [ -z "$rpbench" ]; then
	# The libtool wrapper would set its own LD_LIBRARY_PATH: use the
	# real binary next to it.
	for f in bench/.libs/rpbench build/bench/.libs/rpbench; do
		[ -x "$f" ] && rpbench=$f && break
	done
fi
if [ -z "$rpbench" ] || [ ! -x "$rpbench" ]; then
	echo "ablib.sh: no rpbench binary; give one with -b" >&2
	exit 2
fi
for arg; do
	dir=${arg#*=}
	if [ "$dir" = "$arg" ] || [ ! -e "$dir/libringpool.so.0" ]; then
		echo "ablib.sh: $arg: want LABEL=DIR with DIR/libringpool.so.0" >&2
		exit 2
	fi
done

# rows LABEL CMD...: run CMD, append its table rows, labelled.
rows() {
	label=$1
	shift
	"$@" 2>/dev/null | awk -v l="$label" '
		/^## / { w = $2; sub(/:$/, "", w); if (w !~ /^(W[0-9]|idle)/) w = "" }
		w != "" && /^\| [a-z][^|]*\| *[0-9*]/ { print l, w, $0 }' >>"$out"
}

first=${1#*=}
: >"$out"
r=1
while [ "$r" -le "$rounds" ]; do
	for arg; do
		LD_LIBRARY_PATH=${arg#*=} rows "${arg%%=*}" "$rpbench" --peers ringpool \
			--workloads "$workloads" --reps 1
	done
	i=1
	while [ "$i" -le "$npeers" ]; do
		args=
		eval "args=\$peer_$i"
		# rpbench itself links the library: the first build's.
		# shellcheck disable=SC2086 # the peer's arguments, split
		LD_LIBRARY_PATH=$first rows peer "$rpbench" --reps 1 $args
		i=$((i + 1))
	done
	echo "ablib.sh: round $r of $rounds done" >&2
	r=$((r + 1))
done

# Medians of each (workload, configuration, label) row, column by column.
awk -F'|' '
function median(key, col,   n, i, j, t, v) {
	n = cnt[key]
	for (i = 1; i <= n; i++) {
		v[i] = val[key, i, col]
		if (v[i] !~ /^-?[0-9.]+$/)
			return "-"
	}
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) {
			t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
		}
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
{
	split($1, head, " ")
	cfg = $2; gsub(/^ +| +$/, "", cfg)
	key = head[2] SUBSEP cfg SUBSEP head[1]
	if (!(key in cnt)) order[++nkeys] = key
	n = ++cnt[key]
	ncol[key] = NF - 3
	for (c = 3; c < NF; c++) {
		x = $c; gsub(/[ ,]/, "", x); sub(/\(.*/, "", x); sub(/\+.*/, "", x)
		val[key, n, c - 2] = x
	}
	if (n == 1 || val[key, n, 1] + 0 < lo[key]) lo[key] = val[key, n, 1] + 0
	if (n == 1 || val[key, n, 1] + 0 > hi[key]) hi[key] = val[key, n, 1] + 0
}
END {
	for (k = 1; k <= nkeys; k++) {
		key = order[k]
		split(key, p, SUBSEP)
		line = ""
		for (c = 1; c <= ncol[key]; c++) {
			m = median(key, c)
			line = line (c > 1 ? " | " : "") (m == "" ? "-" : m)
		}
		printf "%-6s %-18s %-10s %s   (%s-%s, n=%d)\n", p[1], p[2], p[3], line, lo[key], hi[key], cnt[key]
	}
}' "$out" >"$out.summary"
printf '%-6s %-18s %-10s %s\n' workload configuration label 'medians of the columns (first column: range, rounds)'
sort -s -k1,1 "$out.summary"
rm -f "$out.summary"
