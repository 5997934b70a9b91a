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

# http_ok PORT PATH: whether GET PATH on the loopback PORT answers 2xx. Bash's /dev/tcp, not
# curl: a process started every 10 ms would take CPU from the start it is timing (at a load of
# 8 on two cores, polling with curl doubled entitle's measured start).
http_ok() {
  local fd line
  { exec {fd}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$2" "$1" >&"$fd"
  IFS= read -r -t 2 line <&"$fd" || line=""
  exec {fd}>&-
  [[ $line == "HTTP/1."?" 2"* ]]
}

# launch LOG READY CMD...: start CMD in the background, its output appended to LOG, on free
# loopback ports: @PORT@ and @PORT2@ in its arguments become two of them. READY is a path to
# GET on @PORT@ until it answers 2xx, or empty to wait for @PORT@ to accept connections. A port
# someone else took between free_port and the bind (this machine is shared) means another try
# on other ports. Sets LAUNCHED_PID, LAUNCHED_PORT, LAUNCHED_PORT2 and LAUNCHED_MS (from the
# last start to ready); returns non-zero when CMD exits without becoming ready.
launch() {
  local log=$1 ready=$2 arg t0
  shift 2
  local args
  for _ in 1 2 3 4 5; do
    LAUNCHED_PORT=$(free_port)
    LAUNCHED_PORT2=$(free_port)
    [[ $LAUNCHED_PORT2 != "$LAUNCHED_PORT" ]] || continue
    args=()
    for arg in "$@"; do
      arg=${arg//@PORT@/$LAUNCHED_PORT}
      args+=("${arg//@PORT2@/$LAUNCHED_PORT2}")
    done
    t0=$(date +%s%N)
    "${args[@]}" >>"$log" 2>&1 &
    LAUNCHED_PID=$!
    # Until it is ready or gone; no time limit, as a big database may take long to open.
    while kill -0 "$LAUNCHED_PID" 2>/dev/null; do
      if [[ -n $ready ]]; then
        http_ok "$LAUNCHED_PORT" "$ready" && break
      else
        (exec 3<>"/dev/tcp/127.0.0.1/$LAUNCHED_PORT") 2>/dev/null && break
      fi
      sleep 0.01
    done
    if kill -0 "$LAUNCHED_PID" 2>/dev/null; then
      # shellcheck disable=SC2034 # read by the caller
      LAUNCHED_MS=$((($(date +%s%N) - t0) / 1000000))
      PIDS+=("$LAUNCHED_PID")
      return 0
    fi
    wait "$LAUNCHED_PID" 2>/dev/null || true
    tail -1 "$log" | grep -q 'address already in use' || return 1
    log "port taken meanwhile; trying others"
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
# WRK_PIN, when set, is the command wrk runs under (taskset, to keep it on a core of its own).
WRK_PIN=()
run_wrk() {
  local out=$1 conns=$2 duration=$3 url=$4
  shift 4
  "${WRK_PIN[@]}" env "$@" wrk -t"$THREADS" -c"$conns" -d"$duration" --timeout 10s --latency -s "$ROOT/bench/wrk.lua" "$url" >"$out.log" 2>&1 ||
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
