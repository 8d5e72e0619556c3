#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bundle.sh BUILD_DIR OUT_DIR - gather rpbench with every shared library it
# loads, the C library and the dynamic loader included, into OUT_DIR, so the
# suite runs on a machine that has none of the peers' packages (a production
# host, a lent benchmark machine with no package registry).  Run it there as
#
#	OUT_DIR/rpbench.sh --full --out results
#
# The bundle starts rpbench through its own loader, so the host's C library
# version does not matter; the host needs only an x86-64 (or the build's)
# Linux kernel.
set -eu

build=$(cd "${1:?usage: bundle.sh BUILD_DIR OUT_DIR}" && pwd)
out=${2:?usage: bundle.sh BUILD_DIR OUT_DIR}
bin="$build/bench/.libs/rpbench"
[ -x "$bin" ] || bin="$build/bench/rpbench"
[ -x "$bin" ] || { echo "bundle.sh: no rpbench in $build (make bench/rpbench)" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/lib"
cp "$bin" "$out/rpbench"
libs=$(LD_LIBRARY_PATH="$build/lib/.libs" ldd "$bin" |
	awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
for lib in $libs; do
	cp -L "$lib" "$out/lib/"
done
# Loaded with dlopen, so ldd does not list it: TBB's scalable allocator.
for lib in /usr/lib/*/libtbbmalloc.so.2; do
	[ -e "$lib" ] && cp -L "$lib" "$out/lib/"
done
loader=$(ls "$out"/lib/ld-linux*.so* | head -n 1)
cat > "$out/rpbench.sh" <<EOS
#!/bin/sh
here=\$(dirname "\$0")
exec "\$here/lib/$(basename "$loader")" --library-path "\$here/lib" "\$here/rpbench" "\$@"
EOS
chmod +x "$out/rpbench.sh"
echo "bundle.sh: $out: rpbench and $(ls "$out/lib" | wc -l) libraries, $(du -sh "$out" | cut -f1)"
