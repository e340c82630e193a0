#!/usr/bin/env bash
# The main job on the embedded mini cluster, end to end: build spindle,
# start `spindle local up` in the background (YARN + HDFS on loopback),
# start a session with the example payload and two TaskManagers, wait
# for them, run a word count through it, print the result, stop the
# session, run the same word count as a per-job cluster (which prints its
# result too), stop the cluster, and say what to try next. Everything it
# made is removed on exit, Ctrl-C included.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/spindle-demo.XXXXXX)
bin=$work/spindle
cluster_pid=
cleanup() {
  if [[ -n $cluster_pid ]]; then kill "$cluster_pid" 2>/dev/null || true; wait "$cluster_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== build"
go build -o "$bin" ./cmd/spindle

echo "== spindle local up (background)"
"$bin" local up --dir "$work/cluster" --nodes 2 >"$work/cluster.log" 2>&1 &
cluster_pid=$!
for _ in $(seq 100); do
  grep -q "cluster ready" "$work/cluster.log" 2>/dev/null && break
  kill -0 "$cluster_pid" 2>/dev/null || { cat "$work/cluster.log"; exit 1; }
  sleep 0.1
done
cat "$work/cluster.log"
export HADOOP_CONF_DIR=$work/cluster/conf HOME=$work/home
mkdir -p "$HOME"

# The input: this repository's README, repeated.
for _ in 1 2 3 4 5; do cat README.md; done >"$work/words.txt"

echo "== spindle session start -d -n 2 -jm 512m -tm 256m -s 2 -nm demo --payload example -t words.txt"
"$bin" session start -d -n 2 -jm 512m -tm 256m -s 2 -nm demo --payload example -t "$work/words.txt"

echo "== spindle session status --wait 2m   (waits until both TaskManagers run)"
"$bin" session status --wait 2m

echo "== spindle example wordcount words.txt   (through the session's JobManager)"
"$bin" example wordcount --top 8 words.txt

echo "== spindle session stop"
"$bin" session stop

echo "== spindle run --payload example -n 2 -jm 512m -tm 256m wordcount words.txt   (per-job: a local file, shipped with the job)"
code=0
"$bin" run --payload example -n 2 -jm 512m -tm 256m wordcount "$work/words.txt" || code=$?
echo "per-job exit code: $code (0 SUCCEEDED, 6 FAILED, 7 KILLED, 8 timed out: spindle help)"
[[ $code == 0 ]] || exit "$code"

echo "== spindle app list --all"
"$bin" app list --all
cat <<EOF
== done: the session and the per-job cluster ran and ended SUCCEEDED; stopping the mini cluster

What to try next:
  make build && export PATH=\$PWD/bin:\$PATH              # spindle on your PATH
  spindle local up --dir /tmp/spindle-local --nodes 2 &   # a mini cluster that stays (stop it: kill %1)
  export HADOOP_CONF_DIR=/tmp/spindle-local/conf
  spindle session start --dry-run -n 2 --payload example  # what a submission would send, submitting nothing
  spindle run -o json --payload example wordcount README.md   # the per-job run as JSON events; the result is in "finished"
  spindle help                                            # every command, and the exit codes
  Flink: spindle session start -d --payload flink --flink-home ~/flink-2.0.0 (README, "Apache Flink")
EOF
