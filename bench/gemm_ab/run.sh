#!/usr/bin/env bash
# Builds gemm_ab from two einvit include folders (or one, with other flags) and runs it:
#   bench/gemm_ab/run.sh [--a-include DIR] [--b-include DIR] [--a-flags "..."] [--b-flags "..."] [gemm_ab arguments]
# e.g. the headers of an earlier commit against the working tree:
#   git archive HEAD~1 include | tar -x -C /tmp/old && bench/gemm_ab/run.sh --a-include /tmp/old/include --openblas
# Needs g++ and libopenblas-dev (tools/install-deps.sh installs both); builds in build-gemm-ab/.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
a_inc="$root/include" b_inc="$root/include" a_flags="" b_flags=""
while [ $# -gt 0 ]; do
  case "$1" in
    --a-include) a_inc="$(cd "$2" && pwd)"; shift 2 ;;
    --b-include) b_inc="$(cd "$2" && pwd)"; shift 2 ;;
    --a-flags) a_flags="$2"; shift 2 ;;
    --b-flags) b_flags="$2"; shift 2 ;;
    *) break ;;
  esac
done
out="$root/build-gemm-ab"
mkdir -p "$out"
flags=(-O3 -DNDEBUG -march=native -std=c++20 -Wall -Wextra)
src="$root/bench/gemm_ab"
rm -f "$out"/*.o
# shellcheck disable=SC2086
g++ "${flags[@]}" -I"$a_inc" -Deinvit=einvit_a -DGEMM_AB_RUN=run_a $a_flags -c "$src/variant.cpp" -o "$out/a.o" & pa=$!
# shellcheck disable=SC2086
g++ "${flags[@]}" -I"$b_inc" -Deinvit=einvit_b -DGEMM_AB_RUN=run_b $b_flags -c "$src/variant.cpp" -o "$out/b.o" & pb=$!
g++ "${flags[@]}" -c "$src/main.cpp" -o "$out/main.o" & pm=$!
wait "$pa" && wait "$pb" && wait "$pm"
g++ "$out/main.o" "$out/a.o" "$out/b.o" -o "$out/gemm_ab" -lopenblas -lpthread
exec "$out/gemm_ab" "$@"
