#!/usr/bin/env bash
# Whole-pipeline load test on this machine: a real Mosquitto and a real InfluxDB 1.x in a temp folder on free
# loopback ports, the worker built in Release, and the load generator (tests/PrintFarm.LoadGen) publishing a
# simulated farm. Prints publish rate, end-to-end throughput and drain time. Everything stops by itself.
#   tests/load/run-load.sh [--printers 500] [--jobs 20] [--progress 10] [--connections 4] [--in-flight 64]
set -euo pipefail
cd "$(dirname "$0")/../.."

work=$(mktemp -d /tmp/printfarm-load.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

source tests/load/common.sh

mqtt_port=$(free_port); influx_port=$(free_port); rpc_port=$(free_port)
cat > "$work/mosquitto.conf" <<CONF
listener $mqtt_port 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 1000000
max_inflight_messages 1000
log_dest none
CONF
mosquitto_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
"$mosquitto_bin" -c "$work/mosquitto.conf" & pids+=($!)

start_influxd "$influx_port" "$rpc_port"
wait_for "$mqtt_port" mosquitto
wait_for "http://127.0.0.1:$influx_port/ping" influxd
curl -fsS -XPOST "http://127.0.0.1:$influx_port/query" --data-urlencode 'q=CREATE DATABASE load' >/dev/null

dotnet build src/PrintFarm.Worker -c Release -v q -nologo >/dev/null
dotnet build tests/PrintFarm.LoadGen -c Release -v q -nologo >/dev/null

PrintFarm__Mqtt__Host=127.0.0.1 PrintFarm__Mqtt__Port=$mqtt_port PrintFarm__Mqtt__ClientId=load-worker \
PrintFarm__Influx__ApiVersion=v1 PrintFarm__Influx__Url="http://127.0.0.1:$influx_port" PrintFarm__Influx__Database=load \
PrintFarm__DataFolder="$work/worker" PrintFarm__FlushInterval=00:00:01 Serilog__MinimumLevel__Default=Warning \
  dotnet src/PrintFarm.Worker/bin/Release/net10.0/PrintFarm.Worker.dll >"$work/worker.log" 2>&1 & pids+=($!)
# The worker is ready once it holds its session with the broker.
for _ in $(seq 1 300); do grep -q "Connected to MQTT broker" "$work/worker.log" 2>/dev/null && break; sleep 0.1; done
sleep 0.5

status=0
dotnet tests/PrintFarm.LoadGen/bin/Release/net10.0/PrintFarm.LoadGen.dll --mqtt-port "$mqtt_port" --influx "http://127.0.0.1:$influx_port" --db load "$@" || status=$?
if grep -qiE 'error|fatal' "$work/worker.log"; then echo "worker log:"; grep -iE 'error|fatal|warn' "$work/worker.log" | head -20; fi
exit $status
