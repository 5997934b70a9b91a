# shellcheck shell=bash
# Shell helpers shared by scripts/bench and scripts/bench-scale; sourced, never run.
# The caller sets ROOT (the repository), WORK (a scratch directory) and THREADS (wrk threads),
# and keeps every process it starts in PIDS so that cleanup can stop them.

log() { printf '%s %s: %s\n' "$(date +%H:%M:%S)" "${BENCH_NAME:-bench}" "$*" >&2; }
die() {
  log "$*"
  exit 1
}

# need_debian_package COMMAND PACKAGE: install Debian's PACKAGE when COMMAND is missing.
need_debian_package() {
  command -v "$1" >/dev/null && return
  log "installing Debian's $2 (for $1)"
  local sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq "$2" >/dev/null
}

# free_port: a loopback port no one listens on now.
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

# wait_http URL [TRIES]: wait until URL answers 2xx, polling every 10 ms (default: 30 s).
wait_http() {
  local tries=${2:-3000} i
  for ((i = 0; i < tries; i++)); do
    curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null && return 0
    sleep 0.01
  done
  return 1
}

# wait_port PORT: wait until something listens on the loopback PORT (up to 10 s).
wait_port() {
  local i
  for ((i = 0; i < 1000; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.01
  done
  return 1
}

# stop_pid PID: stop a process this script started, and forget it.
stop_pid() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local kept=() pid
  for pid in "${PIDS[@]}"; do [[ $pid == "$1" ]] || kept+=("$pid"); done
  PIDS=("${kept[@]}")
}

# stop_all: stop every process this script started.
stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}

# sample_rss PID FILE: append the process's resident set (kB) to FILE every 100 ms while it lives.
sample_rss() {
  local key value _
  while [[ -r /proc/$1/status ]]; do
    while read -r key value _; do
      [[ $key == VmRSS: ]] && echo "$value" >>"$2"
    done <"/proc/$1/status" 2>/dev/null || true
    sleep 0.1
  done
}

# hwm_kb PID: the process's peak resident set so far (kB).
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# mb KB: kilobytes as megabytes with one decimal.
mb() { awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'; }

# run_wrk OUTFILE CONNECTIONS DURATION URL [VAR=VALUE ...]: one wrk run with bench/wrk.lua (VARs
# are its environment); the BENCH_RESULT json goes to OUTFILE, the whole output to OUTFILE.log.
run_wrk() {
  local out=$1 conns=$2 duration=$3 url=$4
  shift 4
  env "$@" wrk -t"$THREADS" -c"$conns" -d"$duration" --timeout 10s --latency -s "$ROOT/bench/wrk.lua" "$url" >"$out.log" 2>&1 ||
    die "wrk failed on $url: $(tail -3 "$out.log")"
  grep '^BENCH_RESULT ' "$out.log" | sed 's/^BENCH_RESULT //' >"$out"
  [[ -s $out ]] || die "wrk printed no result for $url: $(tail -3 "$out.log")"
}

# postgres_database_url ADMIN_URL NAME: ADMIN_URL with its database replaced by NAME.
postgres_database_url() {
  local base=${1%%\?*}
  echo "${base%/*}/$2${1#"$base"}"
}

# machine_facts: markdown table rows about this machine and this checkout.
machine_facts() {
  local commit
  commit=$(git -C "$ROOT" rev-parse --short=12 HEAD)
  [[ -z $(git -C "$ROOT" status --porcelain --untracked-files=no) ]] || commit="$commit (with uncommitted changes)"
  echo "| commit | $commit |"
  echo "| machine | $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r) |"
  echo "| Go | $(go env GOVERSION) |"
}

# loaded LOADAVG: true when the 1-minute load is above half the cores.
loaded() { awk -v l="${1%% *}" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; }
