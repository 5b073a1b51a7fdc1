#!/usr/bin/env bash
# One image, cold process: resnet-cli against the Python torchvision code a
# user would write, in the same run, on the same checkpoint and image.
# Prints median wall time and peak RSS of each over RUNS runs, and the ratios.
#
#   scripts/bench-single-image.sh [IMAGE]     (RUNS=5, BUILD_DIR=build)
#
# The checkpoint is the test fixture (a ResNet50 state_dict with the real
# layout and size), made by tests/oracle/make_fixtures.py when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
runs=${RUNS:-5}
binary=$build_dir/cli/resnet-cli
fixtures=$build_dir/fixtures
[ -x "$binary" ] || { echo "build resnet-cli first ($binary)" >&2; exit 2; }
/usr/bin/python3 tests/oracle/make_fixtures.py "$fixtures" >/dev/null
image=${1:-$fixtures/images/photo_500x375.jpg}
export TORCH_HOME=$PWD/$fixtures/torch_home

python_job=$(mktemp --suffix=.py)
timing=$(mktemp)
trap 'rm -f "$python_job" "$timing"' EXIT
cat >"$python_job" <<'PY'
import sys
import torch
from PIL import Image
from torchvision.models import ResNet50_Weights, resnet50

weights = ResNet50_Weights.IMAGENET1K_V2
model = resnet50(weights=weights).eval()
image = Image.open(sys.argv[1]).convert("RGB")
with torch.no_grad():
    probabilities = model(weights.transforms()(image).unsqueeze(0)).softmax(1)[0]
top = probabilities.topk(5)
for score, index in zip(top.values.tolist(), top.indices.tolist()):
    print(f"{weights.meta['categories'][index]}: {score:.4f}")
PY

# "median-wall median-rss-KiB" of RUNS runs of "$@".
measure() {
  local walls=() rss=() line
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$timing" "$@" >/dev/null 2>&1
    line=$(tail -1 "$timing")
    walls+=("${line% *}")
    rss+=("${line#* }")
  done
  local middle=$(( (runs + 1) / 2 ))
  echo "$(printf '%s\n' "${walls[@]}" | sort -g | sed -n "${middle}p")" \
       "$(printf '%s\n' "${rss[@]}" | sort -g | sed -n "${middle}p")"
}

read -r cli_wall cli_rss <<<"$(measure "$binary" classify "$image")"
read -r py_wall py_rss <<<"$(measure /usr/bin/python3 "$python_job" "$image")"

awk -v runs="$runs" -v cores="$(nproc)" -v pw="$py_wall" -v pr="$py_rss" \
    -v cw="$cli_wall" -v cr="$cli_rss" 'BEGIN {
  printf "one image, cold process, median of %d runs, %d cores\n", runs, cores
  printf "%-22s %8s %10s\n", "", "wall s", "peak MiB"
  printf "%-22s %8.2f %10.0f\n", "python torchvision", pw, pr / 1024
  printf "%-22s %8.2f %10.0f\n", "resnet-cli", cw, cr / 1024
  printf "%-22s %8.2f %10.2f\n", "ratio (cli / python)", cw / pw, cr / pr
}'
