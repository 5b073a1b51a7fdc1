#!/usr/bin/env bash
# The Slurm scale-out end to end, on a real one-host cluster started here:
# munged, slurmctld and slurmd (2 CPUs) on 127.0.0.1 with their keys, state,
# ports and logs in a temporary folder. scripts/slurm/submit.sh submits a
# 4-task array over the oracle's image tree and the dependent merge job. Two
# tasks are cancelled midway: task 1 is requeued (scontrol requeue) and task 2
# resubmitted (sbatch --array=2); both must continue their parts without
# redoing or repeating an input, and the merged file must equal a single
# process's output over the same tree, byte for byte.
#
#   run_slurm_test.sh RESNET_CLI FIXTURE_DIR
#
# Exit status: 0 passed, 1 failed (the daemons' and jobs' logs are printed),
# 77 skipped: the Slurm or munge programs are not installed (CI installs them
# with scripts/install-deps.sh).
set -euo pipefail

[ $# -eq 2 ] || {
  echo "usage: $0 RESNET_CLI FIXTURE_DIR" >&2
  exit 2
}
resnet_cli=$(realpath "$1")
fixtures=$(realpath "$2")
scripts=$(realpath "$(dirname "$0")/../../scripts/slurm")
tree=$fixtures/tree
shards=4
# One thread and batch 1 in every run, so that each image's numbers are
# computed the same way in the array as in the single process.
classify_options=(-t 1 -b 1)

export PATH="$PATH:/usr/sbin:/sbin"
for program in munged mungekey munge slurmctld slurmd sbatch squeue scancel \
  scontrol sinfo; do
  if ! command -v "$program" >/dev/null; then
    echo "SKIP: $program is not installed; the Slurm test needs Debian's" \
      "slurm-wlm and munge packages (scripts/install-deps.sh installs them)"
    exit 77
  fi
done

say() { echo "slurm test: $*"; }
die() {
  echo "slurm test: FAILED: $*" >&2
  exit 1
}

# Polls COMMAND... until it succeeds; fails the test after SECONDS, so that a
# broken cluster fails rather than hangs.
wait_for() {
  local what=$1 seconds=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] ||
      die "gave up after ${seconds}s waiting for $what"
    check_daemons
    sleep 0.1
  done
}

# A daemon that exits (a bad configuration, a port taken) fails the test at
# once, rather than at the end of a wait.
check_daemons() {
  local name pid status
  for name in munged slurmctld slurmd; do
    pid=${name}_pid
    pid=${!pid:-}
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      status=0
      wait "$pid" 2>/dev/null || status=$?
      die "$name exited with status $status (its log follows)"
    fi
  done
}

# Nothing of the caller's Slurm or resnet-cli settings (a CI job may itself
# run under Slurm) reaches this cluster or its jobs.
while IFS= read -r name; do
  case $name in
    SLURM_* | SBATCH_* | SQUEUE_* | SCANCEL_* | SINFO_* | RESNET_CLI_*)
      unset "$name"
      ;;
  esac
done < <(compgen -e)
export TORCH_HOME=$fixtures/torch_home RESNET_CLI_OFFLINE=1

# Short paths under /tmp: munge's and slurmd's sockets live here, and socket
# paths are limited to 107 bytes.
work=$(mktemp -d /tmp/resnet-cli-slurm.XXXXXX)
# munged refuses a socket in a folder that others cannot search.
chmod 755 "$work"
mkdir -p "$work/munge" "$work/state" "$work/spool" "$work/log"
export SLURM_CONF=$work/slurm.conf
out=$work/run
munged_pid='' slurmctld_pid='' slurmd_pid='' single_pid=''

job_state() {
  squeue --noheader --states=all --jobs="$1" --format=%T 2>/dev/null | head -n 1
}

stop() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$?
  set +e
  if [ -n "$slurmctld_pid" ]; then
    scancel --quiet --user="$(id -un)" 2>/dev/null
    for _ in $(seq 100); do
      [ -z "$(squeue --noheader 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
  if [ "$status" -ne 0 ]; then
    for log in "$work"/log/* "$out"/logs/*; do
      [ -f "$log" ] || continue
      echo "==== $log (last 40 lines)"
      tail -n 40 "$log"
    done
    squeue --states=all 2>/dev/null
  fi
  stop "$single_pid"
  stop "$slurmd_pid"
  stop "$slurmctld_pid"
  stop "$munged_pid"
  # slurmd's step daemons detach from it; they carry its environment, so
  # this cluster's are the ones with this SLURM_CONF.
  for environ in /proc/[0-9]*/environ; do
    if tr '\0' '\n' 2>/dev/null <"$environ" |
      grep -qxF "SLURM_CONF=$SLURM_CONF"; then
      pid=${environ#/proc/}
      kill -KILL "${pid%/environ}" 2>/dev/null
    fi
  done
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

# --- munge: slurm's authentication, with a key of its own -------------------
mungekey --create --keyfile="$work/munge/munge.key"
chmod 600 "$work/munge/munge.key"
munge_socket=$work/munge/munge.socket
munged --foreground --force --key-file="$work/munge/munge.key" \
  --socket="$munge_socket" --pid-file="$work/munge/munged.pid" \
  --seed-file="$work/munge/munged.seed" --log-file="$work/log/munged.log" \
  2>>"$work/log/munged.log" &
munged_pid=$!
munge_works() {
  munge --socket="$munge_socket" --no-input 2>/dev/null |
    unmunge --socket="$munge_socket" >/dev/null 2>&1
}
wait_for "munged to answer" 30 munge_works

# --- slurmctld and slurmd: one node, 2 CPUs, on 127.0.0.1 -------------------
read -r controller_port node_port < <(python3 -c '
import socket
sockets = [socket.socket() for _ in range(2)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in sockets])')
node=$(hostname -s)
user=$(id -un)
cat >"$SLURM_CONF" <<EOF
ClusterName=resnetclitest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$controller_port
SlurmdPort=$node_port
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
# cred_expire also delays a requeued job's restart (120 s by default).
AuthInfo=socket=$munge_socket,cred_expire=10
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
# Two CPUs whatever this machine has.
SlurmdParameters=config_overrides
SchedulerParameters=sched_interval=2
# Finished jobs stay visible to squeue for the whole test.
MinJobAge=3600
NodeName=$node NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -D >>"$work/log/slurmctld.log" 2>&1 &
slurmctld_pid=$!
slurmd -D >>"$work/log/slurmd.log" 2>&1 &
slurmd_pid=$!
node_idle() {
  [ "$(sinfo --noheader --nodes="$node" --format=%t 2>/dev/null)" = idle ]
}
wait_for "node $node to be idle" 60 node_idle
say "cluster up: node $node, slurmctld port $controller_port, slurmd port $node_port"

# --- the reference: one process over the same tree, meanwhile ---------------
"$resnet_cli" classify "$tree" "${classify_options[@]}" --format jsonl \
  --progress never >"$work/single.jsonl" 2>"$work/single.err" &
single_pid=$!

# --- the array and its merge ------------------------------------------------
started=$SECONDS
ids=$("$scripts/submit.sh" --shards "$shards" --resnet-cli "$resnet_cli" \
  --cpus-per-task=1 "$out" "$tree" -- "${classify_options[@]}")
read -r array_job merge_job <<<"$ids"
[[ $array_job =~ ^[0-9]+$ && $merge_job =~ ^[0-9]+$ ]] ||
  die "submit.sh printed '$ids', not two job ids"
say "array job $array_job, merge job $merge_job"

has_lines() { [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]; }
job_ended() {
  case $(job_state "$1") in
    COMPLETED | CANCELLED | FAILED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | \
      PREEMPTED | BOOT_FAIL | DEADLINE) return 0 ;;
    *) return 1 ;;
  esac
}

# Cancels task TASK once its part records a few inputs, and keeps a copy of
# the records it wrote before it was stopped.
cancel_midway() {
  local task=$1 part=$out/part-$1.jsonl
  wait_for "task $task to record 3 inputs" 300 has_lines "$part" 3
  scancel "${array_job}_$task" || true
  wait_for "task $task to end" 60 job_ended "${array_job}_$task"
  local state
  state=$(job_state "${array_job}_$task")
  [ "$state" = CANCELLED ] ||
    die "task $task ended $state before it could be cancelled midway"
  # Complete lines only: the last may have been cut while it was written.
  head -n "$(wc -l <"$part")" "$part" >"$work/part-$task.before"
  say "task $task cancelled after recording $(wc -l <"$work/part-$task.before") inputs"
}

cancel_midway 1
scontrol requeue "${array_job}_1"
cancel_midway 2
rerun_job=$(SHARDS=$shards RESNET_CLI=$resnet_cli sbatch --parsable \
  --array=2 --cpus-per-task=1 --output="$out/logs/classify-%A_%a.log" \
  "$scripts/classify-array.sbatch" "$out" "$tree" -- "${classify_options[@]}")
rerun_job=${rerun_job%%;*}
say "task 1 requeued, task 2 resubmitted as job $rerun_job"
# The cancelled tasks failed the merge's afterok on the array; make it wait
# for every task to end and for both reruns to succeed.
scontrol update JobId="$merge_job" \
  Dependency="afterany:$array_job,afterok:${array_job}_1:$rerun_job"

# A failed dependency (a rerun that failed) would keep the merge pending
# forever: stop waiting then.
merge_settled() {
  job_ended "$merge_job" ||
    squeue --noheader --jobs="$merge_job" --format=%E 2>/dev/null |
    grep -qF "(failed)"
}
wait_for "the merge job to end" 600 merge_settled
job_ended "$merge_job" ||
  die "the merge job can never start: $(squeue --noheader \
    --jobs="$merge_job" --format=%E) (a rerun failed; see its log)"
merge_state=$(job_state "$merge_job")
[ "$merge_state" = COMPLETED ] || die "merge job $merge_job ended $merge_state"
say "array, cancels, reruns and merge took $((SECONDS - started))s"

# --- checks -----------------------------------------------------------------
single_status=0
wait "$single_pid" || single_status=$?
single_pid=
# 1: the tree has broken files, whose records say why.
[ "$single_status" -eq 1 ] ||
  die "the single-process run exited $single_status: $(cat "$work/single.err")"
results=$out/results.jsonl
records=$(wc -l <"$work/single.jsonl")
[ "$records" -ge 300 ] || die "the single-process run wrote $records records"
cmp "$results" "$work/single.jsonl" ||
  die "$results differs from the single-process run's output"
say "merged output equals the single-process run: $records records"

parts_total=0
for ((task = 0; task < shards; task++)); do
  part=$out/part-$task.jsonl
  lines=$(wc -l <"$part")
  parts_total=$((parts_total + lines))
  [ "$(tail -c 1 "$part" | od -An -c | tr -d ' ')" = '\n' ] ||
    die "$part does not end with a complete line"
done
[ "$parts_total" -eq "$records" ] ||
  die "the parts hold $parts_total records for $records inputs"

for task in 1 2; do
  part=$out/part-$task.jsonl
  before=$work/part-$task.before
  # Resumed: what the cancelled run wrote is still there, unchanged, and the
  # rerun added the rest.
  cmp --bytes="$(stat -c %s "$before")" "$before" "$part" ||
    die "task $task's rerun did not keep what the cancelled run recorded"
  [ "$(wc -l <"$part")" -gt "$(wc -l <"$before")" ] ||
    die "task $task was cancelled after its last input, not midway"
done
grep -q "inputs already recorded, skipping them" \
  "$out/logs/classify-${array_job}_1.log" ||
  die "the requeued task 1 did not resume"
grep -q "inputs already recorded, skipping them" \
  "$out/logs/classify-${rerun_job}_2.log" ||
  die "the resubmitted task 2 did not resume"
say "tasks 1 (requeued) and 2 (resubmitted) resumed: $(wc -l <"$work/part-1.before") and $(wc -l <"$work/part-2.before") records kept, none repeated"
say "PASSED"
