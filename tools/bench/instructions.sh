#!/bin/bash
# Instructions one frame costs in the model, counted by valgrind (repeatable to about 0.5%,
# unlike wall-clock rates on a shared VM): the difference between runs of A and B frames
# of tools/bench/frame-cost.ts, over B - A; A=60000 and B=180000 unless set in the
# environment. (With 20k and 60k, TurboFan's last compilations of a slowly warming shape
# sometimes fell between the two runs and showed as up to 20% more a frame.) Needs
# valgrind (not needed by the tests).
# usage: tools/bench/instructions.sh [reference|fatriot|reference-after-fatriot] [LENGTH=60] [sinks|tap-like|tap-bursts]
# (tap-like: ports shaped like the TAP path's; tap-bursts: also driven as at full load on TAPs;
# tools/bench/model.ts BenchPorts)
set -euo pipefail
cd "$(dirname "$0")/../.."
kind=${1:-reference}
length=${2:-60}
ports=${3:-sinks}
command -v valgrind >/dev/null || { echo "valgrind not installed (apt-get install valgrind)" >&2; exit 1; }
# One bundle, so the counts hold no TypeScript loader work. It sits as deep in the tree as
# the sources, whose data files it finds relative to itself (git-ignored).
out=$(mktemp -d tools/bench/.build.XXXXXX)
trap 'rm -rf "$out"' EXIT
node_modules/.bin/esbuild tools/bench/frame-cost.ts --bundle --platform=node --format=esm \
  --outfile="$out/frame-cost.mjs" --log-level=warning
count() {
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
    node --single-threaded "$out/frame-cost.mjs" "$1" "$length" "$kind" "$ports" 2>&1 >/dev/null |
    awk '/I *refs:/ { gsub(",", "", $4); print $4 }'
}
frames_a=${A:-60000}
frames_b=${B:-180000}
a=$(count "$frames_a")
b=$(count "$frames_b")
echo "{\"nic\":\"$kind\",\"ports\":\"$ports\",\"length\":$length,\"instructions_per_frame\":$(( (b - a) / (frames_b - frames_a) ))}"
