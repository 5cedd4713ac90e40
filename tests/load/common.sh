# Shared by the load scripts (sourced): free loopback ports, waiting for a server, and a throwaway InfluxDB 1.x.
# The caller sets `work` (its temp folder) and the `pids` array (what its EXIT trap kills).

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

wait_for() { # url-or-port, what
  for _ in $(seq 1 300); do
    if [[ $1 == http* ]]; then curl -fsS -o /dev/null "$1" && return 0; else (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; fi
    sleep 0.1
  done
  echo "$2 did not start" >&2; exit 1
}

# start_influxd HTTP_PORT RPC_PORT: InfluxDB 1.x with its data in $work/influx, no reporting, no query or HTTP logs;
# sets influxd_pid.
start_influxd() {
  cat > "$work/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$2"
[meta]
  dir = "$work/influx/meta"
[data]
  dir = "$work/influx/data"
  wal-dir = "$work/influx/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$1"
  log-enabled = false
[monitor]
  store-enabled = false
CONF
  influxd run -config "$work/influxdb.conf" >"$work/influxd.log" 2>&1 & influxd_pid=$!; pids+=($influxd_pid)
}
