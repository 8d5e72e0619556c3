#!/bin/sh
# SPDX-License-Identifier: MIT
# Every exported symbol is in the version script and has a man page, and
# nothing else is exported.
set -eu
lib=${top_builddir:-.}/lib/.libs/libringpool.so
src=${top_srcdir:-.}
[ -f "$lib" ] || { echo "no shared library: skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
${NM:-nm} -D --defined-only "$lib" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort >"$tmp/exported"
sed -n 's/^[[:space:]]*\(rp_[a-z0-9_]*\);$/\1/p' "$src/lib/libringpool.map" | sort >"$tmp/map"
sed -n 's/^\.Nm \(rp_[a-z0-9_]*\).*/\1/p' "$src"/man/*.3 | sort -u >"$tmp/man"
grep -v '^typedef' "$src/include/ringpool.h" | grep -o '\brp_[a-z0-9_]*[[:space:]]*(' | tr -d ' (' | sort -u >"$tmp/header"
status=0
for pair in "exported map" "exported man" "exported header"; do
	# shellcheck disable=SC2086 # split the pair on purpose
	set -- $pair
	if ! diff -u "$tmp/$1" "$tmp/$2"; then
		echo "FAIL: $1 and $2 differ" >&2
		status=1
	fi
done
[ $status -eq 0 ] && echo "PASS: $(wc -l <"$tmp/exported") exported functions, each in the map, a man page and the header"
exit $status
