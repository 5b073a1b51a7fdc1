#!/usr/bin/env bash
# Submits a sharded classify run to Slurm: a job array of N tasks
# (classify-array.sbatch, one shard each) and the merge as a job that starts
# when every task has succeeded (merge.sbatch, --dependency=afterok).
#
#   scripts/slurm/submit.sh --shards N [--resnet-cli PATH] [SBATCH_OPTION...] \
#       OUT_DIR INPUT... [-- CLASSIFY_OPTION...]
#
# SBATCH_OPTION...: options for both jobs, each one word (--partition=gpu,
#   --time=4:00:00, --cpus-per-task=8, --gres=gpu:1); the SBATCH_* variables
#   sbatch reads work too.
# OUT_DIR, INPUT..., CLASSIFY_OPTION...: see classify-array.sbatch. Slurm's
#   logs go to OUT_DIR/logs/.
# Prints "ARRAY_JOB_ID MERGE_JOB_ID" on stdout.
#
# When a task fails or is cancelled, the merge job waits (reason
# DependencyNeverSatisfied). Rerun the task, which continues where it
# stopped, and make the merge wait for the rerun:
#   scontrol requeue ARRAY_JOB_ID_I
#   scontrol update JobId=MERGE_JOB_ID Dependency=afterany:ARRAY_JOB_ID,afterok:ARRAY_JOB_ID_I
set -euo pipefail

fail() {
  echo "submit.sh: $*" >&2
  exit 2
}

here=$(cd "$(dirname "$0")" && pwd)
shards=
resnet_cli=${RESNET_CLI:-resnet-cli}
sbatch_options=()
while [ $# -gt 0 ]; do
  case $1 in
    --shards) [ $# -ge 2 ] || fail "--shards needs a value"; shards=$2; shift 2 ;;
    --shards=*) shards=${1#*=}; shift ;;
    --resnet-cli) [ $# -ge 2 ] || fail "--resnet-cli needs a value"; resnet_cli=$2; shift 2 ;;
    --resnet-cli=*) resnet_cli=${1#*=}; shift ;;
    --array | --array=* | --dependency | --dependency=*)
      fail "$1: set here (use --shards N)" ;;
    -*) sbatch_options+=("$1"); shift ;;
    *) break ;;
  esac
done
[[ $shards =~ ^[1-9][0-9]*$ ]] || fail "give --shards N (the number of array tasks)"
[ $# -ge 2 ] || fail "usage: submit.sh --shards N [SBATCH_OPTION...] OUT_DIR INPUT... [-- CLASSIFY_OPTION...]"
out_dir=$1
mkdir -p "$out_dir/logs"

# sbatch --parsable prints "ID" or "ID;CLUSTER".
array_job=$(SHARDS=$shards RESNET_CLI=$resnet_cli sbatch --parsable \
  --array="0-$((shards - 1))" --output="$out_dir/logs/classify-%A_%a.log" \
  "${sbatch_options[@]}" "$here/classify-array.sbatch" "$@")
array_job=${array_job%%;*}
merge_job=$(SHARDS=$shards RESNET_CLI=$resnet_cli sbatch --parsable \
  --dependency="afterok:$array_job" --output="$out_dir/logs/merge-%j.log" \
  "${sbatch_options[@]}" "$here/merge.sbatch" "$@")
merge_job=${merge_job%%;*}
echo "submit.sh: array job $array_job ($shards tasks), merge job $merge_job; results in $out_dir/results.${MERGE_FORMAT:-jsonl}" >&2
echo "$array_job $merge_job"
