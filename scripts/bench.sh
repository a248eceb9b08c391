#!/bin/sh
# The whole comparison, in one run, on this machine: the atomic floor,
# agentbudget, a Unix socket RPC, a process-shared mutex, Redis on loopback,
# scale, and one charge through each language binding. Prints a table of
# medians and ratios and saves it with the JSON results under bench/results/.
#
#   scripts/bench.sh [BUILD_DIR]      (default: build; `make bench` uses build)
#
# Environment: AB_BENCH_REPS (repetitions, default 5), AB_BENCH_MIN_TIME
# (seconds per repetition, default 0.3), AB_BENCH_FILTER (a benchmark regex,
# default all), AB_BENCH_OUT (results folder, default bench/results),
# AB_BENCH_NO_BUILD=1 (run what BUILD_DIR already holds).
# Installs redis-server from Debian if it is missing (needs root or sudo).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${1:-build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
reps=${AB_BENCH_REPS:-5}
min_time=${AB_BENCH_MIN_TIME:-0.3}
filter=${AB_BENCH_FILTER:-.}
out=${AB_BENCH_OUT:-$root/bench/results}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"

# ---- packages: the build's (setup.sh) and redis-server for this script ----
scripts/setup.sh
if ! command -v redis-server >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "bench: installing redis-server"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends redis-server
fi

# ---- build what the comparison needs (AB_BENCH_NO_BUILD=1: use what is built) ----
if [ "${AB_BENCH_NO_BUILD:-0}" != 1 ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j "$(nproc)" --target ab_compare_bench agentbudgetd agentbudget
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/abbench-XXXXXX")
redis_pid=""
bench_pid=""
cleanup() {
  for p in $bench_pid $redis_pid; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  # A benchmark killed midway leaves its private ledgers ("abbench-*-PID-*").
  [ -n "$bench_pid" ] && rm -f /dev/shm/abbench-*-"$bench_pid"-* 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- a private redis-server on loopback, no persistence ----
redis_port=""
for try in 1 2 3 4 5; do
  port=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 20000))
  redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --daemonize no \
    --dir "$tmp" --loglevel warning --protected-mode yes >"$tmp/redis.log" 2>&1 &
  redis_pid=$!
  i=0
  while [ $i -lt 50 ]; do
    if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then redis_port=$port; break; fi
    kill -0 "$redis_pid" 2>/dev/null || break
    sleep 0.1; i=$((i+1))
  done
  [ -n "$redis_port" ] && break
  kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; redis_pid=""
done
if [ -n "$redis_port" ]; then
  echo "bench: redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') on 127.0.0.1:$redis_port"
else
  echo "bench: could not start redis-server; the Redis rows will be missing" >&2
  cat "$tmp/redis.log" >&2 || true
fi

# ---- the benchmarks, all in one process, one after the other ----
# (Its daemons' state folders go under $tmp, removed at exit.)
raw="$tmp/compare.json"
mkdir -p "$tmp/state"
TMPDIR="$tmp/state" AB_BENCH_REDIS_PORT="$redis_port" "$build/bench/ab_compare_bench" \
  --benchmark_filter="$filter" --benchmark_repetitions="$reps" --benchmark_min_time="$min_time" \
  --benchmark_report_aggregates_only=true --benchmark_out="$raw" --benchmark_out_format=json &
bench_pid=$!
wait "$bench_pid" || { echo "bench: ab_compare_bench failed" >&2; exit 1; }

if [ -n "$redis_pid" ]; then
  kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; redis_pid=""
fi

# ---- one charge through each binding, each against its own private daemon ----
daemon="$build/daemon/agentbudgetd"
with_daemon="$root/bindings/scripts/run_with_daemon.sh"
libdir="$build/capi"
bind="$tmp/bindings.txt"
: >"$bind"
# binding_result NAME STATUS OUTPUT-FILE: one line "NAME<TAB>STATUS<TAB>first ns/op line"
binding_result() {
  line=$(grep -m1 'ns/op' "$3" 2>/dev/null || true)
  printf '%s\t%s\t%s\n' "$1" "$2" "$line" >>"$bind"
}

py_bench=""
for f in bindings/python/examples/bench_charge.py bindings/python/bench_charge.py bindings/python/bench/bench_charge.py; do
  [ -f "$f" ] && { py_bench=$f; break; }
done
if [ -z "$py_bench" ]; then
  binding_result python "not measured: no benchmark program in bindings/python yet" /dev/null
elif [ ! -x "$with_daemon" ]; then
  binding_result python "not measured: bindings/scripts/run_with_daemon.sh missing" /dev/null
else
  echo "bench: python binding ($py_bench)"
  if "$with_daemon" "$daemon" env AGENTBUDGET_LIBRARY="$libdir/libagentbudget.so" \
       PYTHONPATH="$root/bindings/python" PYTHONDONTWRITEBYTECODE=1 python3 -s "$py_bench" >"$tmp/py.out" 2>&1; then
    binding_result python measured "$tmp/py.out"
  else
    binding_result python "not measured: $py_bench failed (see below)" "$tmp/py.out"; cat "$tmp/py.out" >&2
  fi
fi

if [ ! -f bindings/rust/examples/bench_charge.rs ]; then
  binding_result rust "not measured: no bindings/rust/examples/bench_charge.rs yet" /dev/null
elif ! command -v cargo >/dev/null 2>&1; then
  binding_result rust "not measured: cargo not installed" /dev/null
else
  echo "bench: rust binding (cargo build --release --example bench_charge)"
  if env CARGO_TARGET_DIR="$build/bench-rust-target" CARGO_HOME="$build/bench-cargo-home" AGENTBUDGET_LIB_DIR="$libdir" \
       cargo build --offline --quiet --release --manifest-path bindings/rust/Cargo.toml --example bench_charge >"$tmp/rs-build.out" 2>&1 &&
     "$with_daemon" "$daemon" "$build/bench-rust-target/release/examples/bench_charge" >"$tmp/rs.out" 2>&1; then
    binding_result rust measured "$tmp/rs.out"
  else
    binding_result rust "not measured: build or run failed (see below)" "$tmp/rs.out"
    cat "$tmp/rs-build.out" "$tmp/rs.out" >&2 2>/dev/null || true
  fi
fi

if [ ! -f bindings/go/examples/bench_charge/main.go ]; then
  binding_result go "not measured: no bindings/go/examples/bench_charge yet" /dev/null
elif ! command -v go >/dev/null 2>&1; then
  binding_result go "not measured: go not installed" /dev/null
else
  echo "bench: go binding (go build ./examples/bench_charge)"
  if (cd bindings/go && env GOCACHE="$build/bench-go-cache" GOPATH="$build/bench-go-path" GOFLAGS=-mod=mod GOTOOLCHAIN=local \
        GOPROXY=off CGO_ENABLED=1 CGO_LDFLAGS="-L$libdir -Wl,-rpath,$libdir" \
        go build -buildvcs=false -o "$build/bench-go-charge" ./examples/bench_charge) >"$tmp/go-build.out" 2>&1 &&
     "$with_daemon" "$daemon" "$build/bench-go-charge" >"$tmp/go.out" 2>&1; then
    binding_result go measured "$tmp/go.out"
  else
    binding_result go "not measured: build or run failed (see below)" "$tmp/go.out"
    cat "$tmp/go-build.out" "$tmp/go.out" >&2 2>/dev/null || true
  fi
fi

# ---- the machine ----
{
  printf 'cpu\t%s\n' "$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
  printf 'cores\t%s\n' "$(nproc)"
  printf 'mhz\t%s\n' "$(sed -n 's/^cpu MHz[^:]*: *//p' /proc/cpuinfo | head -1)"
  printf 'hypervisor\t%s\n' "$(lscpu | sed -n 's/^Hypervisor vendor: *//p' | head -1)"
  printf 'kernel\t%s\n' "$(uname -sr)"
  printf 'os\t%s\n' "$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
  printf 'compiler\t%s\n' "$(${CXX:-c++} --version | head -1)"
  printf 'memory\t%s\n' "$(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
  printf 'redis\t%s\n' "$(redis-server --version 2>/dev/null | sed 's/.*v=\([^ ]*\).*/\1/')"
  printf 'load\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$tmp/machine.txt"

python3 "$root/bench/make_table.py" "$raw" "$bind" "$tmp/machine.txt" \
  "$out/results-$stamp.json" "$out/table-$stamp.md" "$reps"
echo
echo "bench: saved $out/results-$stamp.json and $out/table-$stamp.md"
