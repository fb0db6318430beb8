#!/bin/sh
# Compiles hello.c into a static binary in the build context. Exit 3 = cannot (no gcc or static libc).
set -eu
command -v gcc >/dev/null 2>&1 || { echo "gcc is not installed (apt-get install gcc libc6-dev)"; exit 3; }
gcc -static -Os -s -o hello hello.c || { echo "gcc cannot link statically (apt-get install libc6-dev)"; exit 3; }
