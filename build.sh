#!/usr/bin/env bash
# PrintFarm Telemetry build entry point.
#   ./build.sh demo    a farm in a box: embedded broker, simulated farm (12 printers, 60x) and the worker, live board
#   ./build.sh run     run the worker (reads src/PrintFarm.Worker/appsettings.json and PrintFarm__* environment variables)
#                      ./build.sh run kpis [--csv]   prints the farm's KPIs from the database instead
#                      ./build.sh run import KIND FILE [--printer ID]   loads history (docs/operations.md)
#   ./build.sh setup   make an InfluxDB 2.x ready: org, bucket, worker token, DBRP mapping (./build.sh setup --help)
#   ./build.sh test    install the servers the tests need (Debian/Ubuntu), then run the whole test suite
#   ./build.sh sim     run the simulator against any broker (./build.sh sim --help)
#   ./build.sh bench   run the BenchmarkDotNet benchmarks (pass a filter, e.g. ./build.sh bench '*Engine*')
set -euo pipefail
cd "$(dirname "$0")"

# Servers the integration tests start on free loopback ports: a real broker, a real InfluxDB 1.x,
# VictoriaMetrics for the InfluxDB v2 write API, nats-server (2.9.10) for the clustered-mode tests (a 3-node cluster
# with JetStream and its MQTT listener); docker-compose only to validate docker-compose.yml.
test_packages=(mosquitto mosquitto-clients influxdb victoria-metrics nats-server docker-compose jq)

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

install_test_dependencies() {
  local missing=()
  have mosquitto || missing+=(mosquitto)
  have mosquitto_pub || missing+=(mosquitto-clients)
  have influxd || missing+=(influxdb)
  have victoria-metrics || missing+=(victoria-metrics)
  have nats-server || missing+=(nats-server)
  have docker-compose || missing+=(docker-compose)
  have jq || missing+=(jq)
  if [ ${#missing[@]} -eq 0 ]; then
    return
  fi
  echo "Installing test dependencies: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  # The packages' own services (if systemd starts them) are not used: the tests start their own on free ports.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

run_tests() {
  install_test_dependencies
  if have docker-compose && [ -f docker-compose.yml ]; then
    echo "Validating docker-compose.yml (with throwaway values for the secrets .env must set)"
    local env_file
    env_file=$(mktemp)
    printf '%s=validate-only\n' MQTT_WORKER_PASSWORD INFLUX_ADMIN_PASSWORD INFLUX_TOKEN GRAFANA_ADMIN_PASSWORD > "$env_file"
    docker-compose --env-file "$env_file" -f docker-compose.yml config -q
    rm -f "$env_file"
  fi
  dotnet build PrintFarm.sln -c Release
  local log
  log=$(mktemp)
  set +e
  dotnet test PrintFarm.sln -c Release --no-build 2>&1 | tee "$log"
  local status=${PIPESTATUS[0]}
  set -e
  # One plain summary line over all test assemblies.
  awk '/(Passed|Failed)!/ { for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) } }
       END { gsub(",", "", p); printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
  rm -f "$log"
  return "$status"
}

case "${1:-}" in
  demo)
    shift
    exec dotnet run --project src/PrintFarm.Demo -c Release -- "$@"
    ;;
  sim)
    shift
    exec dotnet run --project src/PrintFarm.Simulator -c Release -- "$@"
    ;;
  run)
    shift
    exec dotnet run --project src/PrintFarm.Worker -c Release -- "$@"
    ;;
  setup)
    shift
    exec dotnet run --project src/PrintFarm.Setup -c Release -- "$@"
    ;;
  test)
    run_tests
    ;;
  bench)
    shift
    exec dotnet run -c Release --project tests/PrintFarm.Benchmarks -- --filter "${1:-*}"
    ;;
  *)
    echo "usage: ./build.sh demo | run [kpis ...] | setup [options] | test | bench [filter] | sim [simulator options]" >&2
    exit 64
    ;;
esac
