#!/bin/sh
# SPDX-License-Identifier: MIT
# Draw the plots of one rpbench --out directory with gnuplot:
#   w2_cdf.png        W2 post-to-start latency, CDF per configuration
#   w3_makespan.png   W3 makespan per configuration (bars, min–max whiskers)
#   w4_makespan.png   W4 the same; deadlocked configurations marked
#   w5_timeline.png   W5 tasks computing at once, over time from the gate
# Usage: plot.sh DIR [GNUPLOT]   (GNUPLOT: the gnuplot program; empty: skip)
set -eu

dir=${1:?usage: plot.sh DIR [GNUPLOT]}
gnuplot=${2-gnuplot}
if [ -z "$gnuplot" ] || ! command -v "$gnuplot" >/dev/null 2>&1; then
	echo "plot.sh: gnuplot not found: no plots (apt-get install gnuplot-nox)" >&2
	exit 0
fi
cd "$dir"

# Blocks in a gnuplot data file: separated by two blank lines.
blocks() {
	awk 'BEGIN { n = 0 } /^"/ { n++ } END { print n }' "$1"
}

common='set terminal pngcairo size 1000,600 noenhanced font "sans,10"
set grid ytics lc rgb "#dddddd"
set key outside right top'

if [ -s w2_cdf.dat ]; then
	n=$(blocks w2_cdf.dat)
	"$gnuplot" <<EOF
$common
set output "w2_cdf.png"
set title "W2: post-to-start latency of an idle pool (one post every 50 µs), all runs pooled"
set xlabel "latency (µs, log scale)"
set ylabel "fraction of tasks started"
set logscale x
set yrange [0:1.001]
plot for [i=0:$((n - 1))] "w2_cdf.dat" index i using 1:2 with lines lw 2 title columnheader(1)
EOF
fi

for w in w3 w4; do
	[ -s ${w}_makespan.dat ] || continue
	W=$(echo $w | tr w W)
	"$gnuplot" <<EOF
$common
set output "${w}_makespan.png"
set title "$W: makespan per configuration (median, min–max whiskers; lower is better)"
set ylabel "makespan (ms, log scale)"
set logscale y
set style fill solid 0.6 border -1
set boxwidth 0.7
set xtics rotate by -45 nomirror
set key off
set datafile missing "nan"
# Deadlocked configurations have no bar; a label says so at the bottom.
plot "${w}_makespan.dat" using 0:2:xtic(1) with boxes lc rgb "#4477aa", \
     "" using 0:2:3:4 with yerrorbars lc rgb "black" pt 0, \
     "" using 0:(\$5 > 0 ? 1 : 1/0):(\$5 == \$6 ? "deadlock" : sprintf("%d/%d deadlocked", \$5, \$6)) \
        with labels rotate by 90 left offset 0,0.5 tc rgb "#cc3311"
EOF
done

if [ -s w5_timeline.dat ]; then
	n=$(blocks w5_timeline.dat)
	"$gnuplot" <<EOF
$common
set output "w5_timeline.png"
set title "W5: tasks computing at once after the gate opens (run with the median makespan)"
set xlabel "time since the gate opened (ms)"
set ylabel "tasks computing"
plot for [i=0:$((n - 1))] "w5_timeline.dat" index i using 1:2 with steps lw 2 title columnheader(1)
EOF
fi
echo "plot.sh: plots in $dir"
