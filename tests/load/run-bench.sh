#!/usr/bin/env bash
# Throughput benchmark at the limits (issue 8), one command, one run: a real Mosquitto and a real InfluxDB 1.x in a
# temp folder on free loopback ports, the worker built in Release and run as a process with the shipped
# appsettings.json, and `PrintFarm.LoadGen bench`, which for each printer count measures
#   publisher alone -> (a) broker -> bare raw-socket subscriber -> (b) same points straight into InfluxDB (5,000-line
#   batches) -> (c) worker, publish -> all points queryable, (d) ratio, (e) lost points, (f) worker peak RSS (VmHWM),
#   (g) publish-to-queryable latency p50/p99 at a fixed 10,000 msg/s with marker messages.
# Everything stops by itself and the temp folder is removed (unless --keep-temp). See docs/benchmarks.md.
#   tests/load/run-bench.sh [--printers 1000,10000] [--messages 200000] [--qos 0|1] [--connections 2] [--repeat 1]
#                           [--latency-rate 10000] [--latency-seconds 20] [--max-queued 2000000] [--profile DIR]
#                           [--profiler dotnet|perf] [--warmup 200000] [--no-runtime-env] [--keep-temp]
set -euo pipefail
cd "$(dirname "$0")/../.."

# The shipped deploy/mosquitto/mosquitto.conf queues up to 2,000,000 messages for the worker (an hour of a 500-printer
# farm); --max-queued 100000 reproduces the smaller test broker of issue 8.
max_queued=2000000
keep_temp=0
args=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --max-queued) max_queued=$2; shift 2 ;;
    --keep-temp) keep_temp=1; shift ;;
    *) args+=("$1"); shift ;;
  esac
done

work=$(mktemp -d /tmp/printfarm-bench.XXXXXX)
# Mosquitto started as root drops to its own user: give it a folder it may write its log into.
chmod 711 "$work"; mkdir -m 777 "$work/mosquitto"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ $keep_temp == 1 ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

source tests/load/common.sh

mqtt_port=$(free_port); influx_port=$(free_port); rpc_port=$(free_port)
# max_queued_messages: how far a subscriber may fall behind before Mosquitto drops QoS 0 messages for it (it counts
# them in $SYS/broker/publish/messages/dropped, read every second thanks to sys_interval 1).
cat > "$work/mosquitto.conf" <<CONF
listener $mqtt_port 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages $max_queued
max_inflight_messages 1000
sys_interval 1
log_dest file $work/mosquitto/mosquitto.log
log_type error
log_type warning
log_type notice
CONF
mosquitto_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
"$mosquitto_bin" -c "$work/mosquitto.conf" & mosquitto_pid=$!; pids+=($mosquitto_pid)

start_influxd "$influx_port" "$rpc_port"
wait_for "$mqtt_port" mosquitto
wait_for "http://127.0.0.1:$influx_port/ping" influxd

dotnet build src/PrintFarm.Worker -c Release -v q -nologo >/dev/null
dotnet build tests/PrintFarm.LoadGen -c Release -v q -nologo >/dev/null

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/Mem:/{print $2}') GiB; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "mosquitto $("$mosquitto_bin" -h 2>/dev/null | head -1 | awk '{print $3}'), $(influxd version 2>/dev/null), dotnet $(dotnet --version); max_queued_messages $max_queued"
status=0
dotnet tests/PrintFarm.LoadGen/bin/Release/net10.0/PrintFarm.LoadGen.dll bench \
  --mqtt-port "$mqtt_port" --influx "http://127.0.0.1:$influx_port" --influxd-pid "$influxd_pid" --mosquitto-pid "$mosquitto_pid" \
  --worker-dll "${WORKER_DLL:-src/PrintFarm.Worker/bin/Release/net10.0/PrintFarm.Worker.dll}" --work "$work" "${args[@]}" || status=$?
drops=$(grep -c "dropped" "$work/mosquitto/mosquitto.log" 2>/dev/null || true)
echo "mosquitto log: ${drops:-0} 'Outgoing messages are being dropped' notices"
grep "dropped" "$work/mosquitto/mosquitto.log" 2>/dev/null | head -5 || true
exit $status
