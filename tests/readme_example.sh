#!/bin/sh
# SPDX-License-Identifier: MIT
# Print the C example of README.md (the ```c block after "<!-- example -->"),
# so the build compiles and runs exactly what the README shows.
exec awk '
	/<!-- example -->/ { armed = 1; next }
	armed && /^```c$/ { inside = 1; next }
	inside && /^```$/ { exit }
	inside { print }
' "$1"
