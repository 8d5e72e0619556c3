#!/bin/sh
# SPDX-License-Identifier: MIT
# Draw W8's plot from the data w8server --out DIR/FILE writes beside it:
#   w8_timeline.png   /cpu latency over time in the isolation run, one panel
#                     per configuration (every request of the repetition with
#                     the median flood p99), the /db flood from the dashed line
# Usage: w8plot.sh DIR [GNUPLOT]   (GNUPLOT: the gnuplot program; empty: skip)
set -eu

dir=${1:?usage: w8plot.sh DIR [GNUPLOT]}
gnuplot=${2-gnuplot}
if [ -z "$gnuplot" ] || ! command -v "$gnuplot" >/dev/null 2>&1; then
	echo "w8plot.sh: gnuplot not found: no plot (apt-get install gnuplot-nox)" >&2
	exit 0
fi
cd "$dir"
if [ ! -s w8_timeline.dat ]; then
	echo "w8plot.sh: no w8_timeline.dat in $dir (run w8server with --out)" >&2
	exit 0
fi

# Blocks: each starts with its quoted label.
n=$(awk '/^"/ { n++ } END { print n + 0 }' w8_timeline.dat)
[ "$n" -gt 0 ] || exit 0
flood=$(sed -n 's/.*flood starts at \([0-9][0-9]*\) s.*/\1/p' w8_timeline.dat | head -n 1)
# One latency scale for every panel, so they compare at a glance.
ymax=$(awk '!/^[#"]/ && NF == 2 && $2 > m { m = $2 } END { print (m > 0 ? m * 1.5 : 10) }' \
	w8_timeline.dat)

"$gnuplot" <<EOF
set terminal pngcairo size 1000,$((170 * n + 90)) noenhanced font "sans,10"
set output "w8_timeline.png"
set multiplot layout $n,1 \
	title "W8 isolation: /cpu latency over time (open loop, fixed rate); " . \
	      "/db flooded from ${flood} s (dashed line)"
set logscale y
set yrange [0.1:$ymax]
set ylabel "latency (ms)"
set grid ytics lc rgb "#dddddd"
set key top left box opaque
set arrow 1 from ${flood}, graph 0 to ${flood}, graph 1 nohead dt 2 lw 2 lc rgb "#cc3311"
do for [i=0:$((n - 1))] {
	if (i == $((n - 1))) { set xlabel "intended send time (s)" }
	plot "w8_timeline.dat" index i using 1:2 with points pt 7 ps 0.35 lc rgb "#4477aa" \
		title columnheader(1)
}
unset multiplot
EOF
echo "w8plot.sh: plot in $dir/w8_timeline.png"
