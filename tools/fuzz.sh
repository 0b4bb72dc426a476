#!/usr/bin/env bash
# Fuzzes einvit's input paths with libFuzzer under AddressSanitizer and UndefinedBehaviorSanitizer
# (clang 14; Debian: clang-14, libclang-rt-14-dev):
#     tools/fuzz.sh [SECONDS] [TARGET...]
# TARGET: safetensors (the checkpoint reader; every tensor of a valid file is read), image (image file
# -> model input, as einvit-classify does it), load (a checkpoint loaded as a model of every family:
# names, dtypes, shapes, resampling, packing); all three by default, SECONDS each (default 60). Builds
# in build-fuzz/, seeds from tests/fuzz/make_seeds.py (for load, the headers of the parity tests'
# checkpoints in build/tests/golden_vit when the tests have made them, else the shipped model's alone),
# keeps the growing corpus in build-fuzz/corpus/,
# and writes any crashing input to build-fuzz/crashes/ (add it to tests/fuzz/regressions/TARGET/,
# where CTest replays it). Prints libFuzzer's final statistics (executions, crashes) per target.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(safetensors image load)

tools/install-deps.sh --fuzz  # clang 14 and libFuzzer's runtime, the image libraries, xsimd, python3 (the seeds)
python=python3
[ -x .venv/bin/python ] && python=.venv/bin/python

out=build-fuzz
mkdir -p "$out/crashes"
golden=build/tests/golden_vit
[ -d "$golden" ] || echo "(no $golden: the load target starts from the shipped model's header alone; tools/run-tests.sh makes the parity checkpoints)"
$python tests/fuzz/make_seeds.py "$out/seeds" "$golden"
flags=(-std=c++20 -O1 -g -march=native -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -fno-omit-frame-pointer -Iinclude -isystem /usr/include/stb)
status=0
for t in "${targets[@]}"; do
  echo "== fuzz_$t: building"
  extra=()
  [ "$t" = image ] && extra=(examples/classify/stb_parts.cpp -lpng -ljpeg)
  clang++-14 "${flags[@]}" "tests/fuzz/fuzz_$t.cpp" "${extra[@]}" -o "$out/fuzz_$t"
  mkdir -p "$out/corpus/$t"
  echo "== fuzz_$t: ${seconds} s"
  if ! "$out/fuzz_$t" "$out/corpus/$t" "$out/seeds/$t" "tests/fuzz/regressions/$t" -max_total_time="$seconds" \
        -max_len=65536 -rss_limit_mb=4096 -timeout=20 -print_final_stats=1 -artifact_prefix="$out/crashes/${t}_" \
        2> "$out/fuzz_$t.log"; then
    status=1
    echo "fuzz_$t FOUND A CRASH: see $out/fuzz_$t.log and $out/crashes/"
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs|cov: " "$out/fuzz_$t.log" | tail -4
done
exit $status
