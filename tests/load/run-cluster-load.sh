#!/usr/bin/env bash
# Clustered-mode benchmark (issue 20), one command, one run: three real nats-server nodes (JetStream, MQTT listener,
# the partition `mappings` of docs/scale-out.md) and a real InfluxDB 1.x in a temp folder on free loopback ports, the
# worker built in Release and run as processes in the clustered mode, and the load generator (tests/PrintFarm.LoadGen)
# publishing a simulated farm over MQTT 3.1.1 at QoS 1, its connections spread over the three nodes. For each printer
# count it runs, each on a fresh cluster and database:
#   nats  the cluster's own limit: the generator publishing with `PrintFarm.LoadGen nats-drain` (one plain JetStream
#         consumer, acknowledging, no parsing) draining $MQTT_msgs; no worker;
#   w1/w2 1 then 2 worker processes (fixed halves of the P partitions): they start and create their consumers, are
#         paused (SIGSTOP) while the generator publishes the whole farm, then resumed; their throughput is messages ÷
#         time from the resume until every job point is queryable, with their CPU (utime+stime from /proc) over
#         that time, and per-partition message counts from the consumers of $MQTT_msgs. Before publishing, the
#         workers' CPU over --idle-seconds of quiet gives their cost per second, taken out in a "net of idle" column.
# Everything stops by itself and the temp folder is removed (unless --keep-temp). See docs/benchmarks.md.
#   tests/load/run-cluster-load.sh [--printers 1000,10000] [--messages 100000] [--partitions 64] [--workers 1,2]
#                                  [--connections 6] [--in-flight 64] [--no-pause] [--idle-seconds 10] [--keep-temp]
set -euo pipefail
cd "$(dirname "$0")/../.."

printer_counts=1000,10000; messages=100000; partitions=64; worker_counts=1,2; connections=6; in_flight=64; keep_temp=0; pause=1; idle_secs=10
while [[ $# -gt 0 ]]; do
  case $1 in
    --printers) printer_counts=$2; shift 2 ;;
    --messages) messages=$2; shift 2 ;;
    --partitions) partitions=$2; shift 2 ;;
    --workers) worker_counts=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --in-flight) in_flight=$2; shift 2 ;;
    --keep-temp) keep_temp=1; shift ;;
    --no-pause) pause=0; shift ;;
    --idle-seconds) idle_secs=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d /tmp/printfarm-cluster-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -CONT "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ $keep_temp == 1 ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

source tests/load/common.sh

nats_bin=$(command -v nats-server || echo /usr/sbin/nats-server)
loadgen=tests/PrintFarm.LoadGen/bin/Release/net10.0/PrintFarm.LoadGen.dll
worker_dll=${WORKER_DLL:-src/PrintFarm.Worker/bin/Release/net10.0/PrintFarm.Worker.dll}
dotnet build src/PrintFarm.Worker -c Release -v q -nologo >/dev/null
dotnet build tests/PrintFarm.LoadGen -c Release -v q -nologo >/dev/null

influx_port=$(free_port); rpc_port=$(free_port)
start_influxd "$influx_port" "$rpc_port"
wait_for "http://127.0.0.1:$influx_port/ping" influxd
influx_q() { curl -fsS -XPOST "http://127.0.0.1:$influx_port/query" --data-urlencode "db=load" --data-urlencode "q=$1"; }

cpu_s() { # pid...: utime+stime in seconds (USER_HZ 100)
  local t=0 pid; for pid in "$@"; do t=$((t + $(awk '{sub(/.*\) /,""); print $12+$13}' "/proc/$pid/stat" 2>/dev/null || echo 0))); done
  awk -v t="$t" 'BEGIN{printf "%.2f", t/100}'
}
now() { date +%s.%N; }

# start_nats RUN: three fresh nodes with the partition mapping; sets nats_pids, mqtt_ports, nats_url, http_ports.
start_nats() {
  local dir=$work/$1 i; mkdir -p "$dir"
  local cports=() rports=(); mqtt_ports=(); http_ports=(); nats_pids=()
  for i in 0 1 2; do cports+=("$(free_port)"); rports+=("$(free_port)"); mqtt_ports+=("$(free_port)"); http_ports+=("$(free_port)"); done
  local routes; routes=$(printf 'nats-route://127.0.0.1:%s,' "${rports[@]}"); routes=${routes%,}
  local m="{{partition($partitions,1)}}"
  for i in 0 1 2; do
    cat > "$dir/n$i.conf" <<CONF
server_name: n$i
listen: 127.0.0.1:${cports[$i]}
http: 127.0.0.1:${http_ports[$i]}
jetstream { store_dir: "$dir/n$i", max_memory_store: 256MB, max_file_store: 8GB }
cluster { name: printfarm-bench, listen: 127.0.0.1:${rports[$i]}, routes: [${routes//,/, }] }
mqtt { listen: 127.0.0.1:${mqtt_ports[$i]} }
mappings {
  "printfarm.*.>": "parts.$m.printfarm.{{wildcard(1)}}.>"
  "device.*.>": "parts.$m.device.{{wildcard(1)}}.>"
  "octoPrint.*.>": "parts.$m.octoPrint.{{wildcard(1)}}.>"
  "*.klipper.>": "parts.$m.{{wildcard(1)}}.klipper.>"
  "*.moonraker.>": "parts.$m.{{wildcard(1)}}.moonraker.>"
}
CONF
    "$nats_bin" -c "$dir/n$i.conf" >"$dir/n$i.log" 2>&1 & nats_pids+=($!); pids+=($!)
  done
  nats_url=$(printf 'nats://127.0.0.1:%s,' "${cports[@]}"); nats_url=${nats_url%,}
  for i in 0 1 2; do wait_for "http://127.0.0.1:${http_ports[$i]}/healthz?js-enabled-only=true" "nats n$i"; done
  # JetStream is usable once the meta group has a leader.
  for _ in $(seq 1 300); do curl -fsS "http://127.0.0.1:${http_ports[0]}/jsz" | jq -e '.meta_cluster.leader // empty' >/dev/null && break; sleep 0.1; done
}
stop_nats() { local pid; for pid in "${nats_pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; }
fresh_db() { influx_q 'DROP DATABASE load' >/dev/null; influx_q 'CREATE DATABASE load' >/dev/null; }
jsz() { curl -fsS "http://127.0.0.1:${http_ports[0]}/jsz?consumers=true"; }
loadgen_args() { # printers jobs
  echo --mqtt-ports "$(IFS=,; echo "${mqtt_ports[*]}")" --printers "$1" --jobs "$2" --progress 8 --connections "$connections" --in-flight "$in_flight" --no-wait true
}

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/Mem:/{print $2}') GiB; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$("$nats_bin" --version), $(influxd version 2>/dev/null), dotnet $(dotnet --version); P = $partitions, QoS 1, MQTT 3.1.1, $connections connections over 3 nodes"
echo
echo "| run | printers | messages | generator → cluster, PUBACKed (msg/s) | delivered (msg/s) | worker CPU per message (µs) | worker CPU idle (cores) | worker CPU per message net of idle (µs) | nats-server CPU per message (µs) | per partition: messages min–max, msg/s min–max | load average |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"
status=0
IFS=, read -ra counts <<<"$printer_counts"; IFS=, read -ra wcounts <<<"$worker_counts"
for printers in "${counts[@]}"; do
  jobs=$(( messages / (printers * 10) )); (( jobs >= 1 )) || jobs=1
  total=$(( printers * jobs * 10 )); total_jobs=$(( printers * jobs ))

  # The cluster's own limit: generator -> 3 nodes (R3 $MQTT_msgs and the R3 partition stream) -> plain consumer.
  load=$(cut -d' ' -f1 /proc/loadavg)
  start_nats "nats-$printers"
  dotnet "$loadgen" nats-drain --url "$nats_url" --count "$total" --partition-stream PRINTFARM >"$work/drain.out" 2>&1 & drain=$!; pids+=($drain)
  for _ in $(seq 1 300); do grep -q ready "$work/drain.out" && break; sleep 0.1; done
  ncpu0=$(cpu_s "${nats_pids[@]}")
  pub=$(dotnet "$loadgen" $(loadgen_args "$printers" "$jobs") | sed -n 's/.* = \([0-9]*\) msg\/s.*/\1/p')
  wait "$drain" || status=1
  ncpu1=$(cpu_s "${nats_pids[@]}")
  drained=$(sed -n 's/.* = \([0-9]*\) msg\/s.*/\1/p' "$work/drain.out")
  echo "| NATS alone (nats-drain) | $printers | $total | $pub | $drained | – | – | – | $(awk -v a="$ncpu0" -v b="$ncpu1" -v n="$total" 'BEGIN{printf "%.1f", (b-a)/n*1e6}') | – | $load |"
  stop_nats

  for w in "${wcounts[@]}"; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    start_nats "w$w-$printers"; fresh_db
    wpids=()
    for ((k = 0; k < w; k++)); do
      lo=$(( k * partitions / w )); hi=$(( (k + 1) * partitions / w - 1 ))
      PrintFarm__Cluster__Enabled=true PrintFarm__Cluster__Url="$nats_url" PrintFarm__Cluster__Partitions=$partitions \
      PrintFarm__Cluster__Owned="$lo-$hi" PrintFarm__Cluster__WorkerId="bench-$k" PrintFarm__Health__Port=0 \
      PrintFarm__Influx__ApiVersion=v1 PrintFarm__Influx__Url="http://127.0.0.1:$influx_port" PrintFarm__Influx__Database=load \
      PrintFarm__DataFolder="$work/w$w-$printers/worker$k" PrintFarm__FlushInterval=00:00:01 Serilog__MinimumLevel__Default=Warning \
        dotnet "$worker_dll" >"$work/w$w-$printers/worker$k.log" 2>&1 & wpids+=($!); pids+=($!)
      # Started one after the other: a worker is ready once its partitions have their consumers on the partition
      # stream (two starting at the same instant on a loaded machine can time out on the stream's creation).
      for _ in $(seq 1 600); do
        n=$(jsz | jq '[.account_details[]?.stream_detail[]? | select(.name=="PRINTFARM") | .consumer_detail[]?] | length' 2>/dev/null || echo 0)
        (( n > hi )) && break; sleep 0.1
      done
    done
    sleep 1
    # Their cost per second while idle (lease-free polling, fetch requests, checkpoints): measured over a quiet spell
    # before the farm is published, and taken out of the CPU per message in the "net of idle" column.
    icpu0=$(cpu_s "${wpids[@]}"); it0=$(now); sleep "$idle_secs"; icpu1=$(cpu_s "${wpids[@]}"); it1=$(now)
    idle_rate=$(awk -v a="$icpu0" -v b="$icpu1" -v s="$it0" -v e="$it1" 'BEGIN{printf "%.4f", (b-a)/(e-s)}')
    if [[ $pause == 1 ]]; then
      for pid in "${wpids[@]}"; do kill -STOP "$pid"; done
      pub=$(dotnet "$loadgen" $(loadgen_args "$printers" "$jobs") | sed -n 's/.* = \([0-9]*\) msg\/s.*/\1/p')
      cpu0=$(cpu_s "${wpids[@]}"); ncpu0=$(cpu_s "${nats_pids[@]}"); t0=$(now)
      for pid in "${wpids[@]}"; do kill -CONT "$pid"; done
    else # --no-pause: the workers read while the generator publishes; time from the first publish.
      cpu0=$(cpu_s "${wpids[@]}"); ncpu0=$(cpu_s "${nats_pids[@]}"); t0=$(now)
      pub=$(dotnet "$loadgen" $(loadgen_args "$printers" "$jobs") | sed -n 's/.* = \([0-9]*\) msg\/s.*/\1/p')
    fi
    landed=0; deadline=$(( $(date +%s) + 600 ))
    while (( $(date +%s) < deadline )); do
      landed=$(influx_q 'SELECT count("job_id") FROM "job"' | jq '.results[0].series[0].values[0][1] // 0')
      (( landed >= total_jobs )) && break; sleep 0.2
    done
    t1=$(now); cpu1=$(cpu_s "${wpids[@]}"); ncpu1=$(cpu_s "${nats_pids[@]}")
    (( landed >= total_jobs )) || { echo "w$w $printers printers: only $landed of $total_jobs job points" >&2; status=1; }
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')
    # Per partition: messages delivered by its consumer on $MQTT_msgs (QoS 1 messages live there; the newest generation).
    parts=$(jsz | jq -r '[.account_details[]?.stream_detail[]? | select(.name=="$MQTT_msgs") | .consumer_detail[]?
      | {p: (.name | capture("_p(?<n>[0-9]+)_g").n), d: .delivered.consumer_seq}] | group_by(.p) | map(map(.d) | max) | [min, max] | @tsv')
    read -r pmin pmax <<<"$parts"
    mode=$([[ $pause == 1 ]] && echo "resumed on the backlog" || echo "reading while it is published"); echo "| $w worker(s), $mode → all job points queryable | $printers | $total | $pub | $(awk -v n="$total" -v s="$secs" 'BEGIN{printf "%.0f", n/s}') | $(awk -v a="$cpu0" -v b="$cpu1" -v n="$total" 'BEGIN{printf "%.1f", (b-a)/n*1e6}') | $(awk -v r="$idle_rate" 'BEGIN{printf "%.3f", r}') | $(awk -v a="$cpu0" -v b="$cpu1" -v n="$total" -v r="$idle_rate" -v s="$secs" 'BEGIN{v=(b-a-r*s)/n*1e6; printf "%.1f", v<0?0:v}') | $(awk -v a="$ncpu0" -v b="$ncpu1" -v n="$total" 'BEGIN{printf "%.1f", (b-a)/n*1e6}') | $pmin–$pmax, $(awk -v a="$pmin" -v b="$pmax" -v s="$secs" 'BEGIN{printf "%.0f–%.0f", a/s, b/s}') | $load |"
    if grep -qiE '"(Level|level)":"(Error|Fatal)"|\[ERR\]|\[FTL\]|fail:|crit:' "$work/w$w-$printers"/worker*.log; then
      echo "worker log ($w workers, $printers printers):" >&2; grep -hiE 'error|fatal|fail|crit' "$work/w$w-$printers"/worker*.log | head -10 >&2
    fi
    for pid in "${wpids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    stop_nats
  done
done
exit $status
