#!/usr/bin/env bash
# Peak memory of a folder run against the folder's size: resnet-cli's
# pipeline bounds the inputs in flight, so 1000 images must cost about what
# 100 do. Prints images, wall time, img/s and peak RSS for each count.
#
#   scripts/bench-memory.sh [COUNT...]      (default: 100 1000; BUILD_DIR=build)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
binary=$build_dir/cli/resnet-cli
fixtures=$build_dir/fixtures
[ -x "$binary" ] || { echo "build resnet-cli first ($binary)" >&2; exit 2; }
/usr/bin/python3 tests/oracle/make_fixtures.py "$fixtures" >/dev/null
export TORCH_HOME=$PWD/$fixtures/torch_home
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(100 1000)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
largest=$(printf '%s\n' "${counts[@]}" | sort -n | tail -1)
# Photo-sized JPEGs (640x480 and 500x375, alternating), made once.
/usr/bin/python3 - "$work/all" "$largest" <<'PY'
import os, sys
import numpy as np
from PIL import Image
folder, count = sys.argv[1], int(sys.argv[2])
os.makedirs(folder)
rng = np.random.default_rng(1)
base = [np.asarray(Image.fromarray((rng.random((12, 16, 3)) * 255).astype(np.uint8))
        .resize(size, Image.BICUBIC)) for size in ((640, 480), (500, 375))]
for i in range(count):
    pixels = base[i % 2].astype(np.int16) + rng.integers(-20, 20, base[i % 2].shape)
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
        os.path.join(folder, f"{i:05d}.jpg"), quality=90)
PY

printf '%8s %8s %8s %10s\n' images "wall s" "img/s" "peak MiB"
for count in "${counts[@]}"; do
  list=$work/list-$count
  find "$work/all" -name "*.jpg" | sort | sed -n "1,${count}p" >"$list"
  /usr/bin/time -f "%e %M" -o "$work/time" \
    "$binary" classify --files-from "$list" --format jsonl >/dev/null 2>&1 || true
  read -r wall rss <"$work/time"
  awk -v n="$count" -v w="$wall" -v r="$rss" \
    'BEGIN { printf "%8d %8.1f %8.1f %10.0f\n", n, w, n / w, r / 1024 }'
done
