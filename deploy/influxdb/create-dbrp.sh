#!/bin/sh
# Maps an InfluxQL database and retention policy (DBRP) onto the PrintFarm bucket of an InfluxDB 2.x server, so
# Grafana's InfluxQL queries (and any InfluxDB 1.x client) can read what the worker writes with the v2 API.
# Idempotent: does nothing when the mapping exists. docker-compose.yml runs it once per `up` (service
# influxdb-dbrp); on another server run it by hand with the influx CLI (2.x) installed.
#
# Environment (the influx CLI reads INFLUX_HOST, INFLUX_TOKEN and INFLUX_ORG itself):
#   INFLUX_HOST              default http://influxdb:8086
#   INFLUX_TOKEN             required: a token allowed to read buckets and write DBRP mappings (the admin token)
#   INFLUX_ORG               default printfarm
#   INFLUX_BUCKET            default printfarm
#   INFLUX_DATABASE          InfluxQL database name, default the bucket name
#   INFLUX_RETENTION_POLICY  default autogen
set -eu

INFLUX_HOST="${INFLUX_HOST:-http://influxdb:8086}"
INFLUX_ORG="${INFLUX_ORG:-printfarm}"
INFLUX_BUCKET="${INFLUX_BUCKET:-printfarm}"
INFLUX_DATABASE="${INFLUX_DATABASE:-$INFLUX_BUCKET}"
INFLUX_RETENTION_POLICY="${INFLUX_RETENTION_POLICY:-autogen}"
: "${INFLUX_TOKEN:?INFLUX_TOKEN must be set to a token of org $INFLUX_ORG}"
export INFLUX_HOST INFLUX_ORG INFLUX_TOKEN

bucket_id="$(influx bucket list --name "$INFLUX_BUCKET" --hide-headers | awk 'NR == 1 { print $1 }')"
if [ -z "$bucket_id" ]; then
  echo "create-dbrp: no bucket '$INFLUX_BUCKET' in org '$INFLUX_ORG' at $INFLUX_HOST" >&2
  exit 1
fi

existing="$(influx v1 dbrp list --bucket-id "$bucket_id" --db "$INFLUX_DATABASE" --rp "$INFLUX_RETENTION_POLICY" --hide-headers)"
if [ -n "$existing" ]; then
  echo "create-dbrp: $INFLUX_DATABASE/$INFLUX_RETENTION_POLICY already maps to bucket $INFLUX_BUCKET ($bucket_id)"
  exit 0
fi

influx v1 dbrp create --bucket-id "$bucket_id" --db "$INFLUX_DATABASE" --rp "$INFLUX_RETENTION_POLICY" --default
echo "create-dbrp: mapped $INFLUX_DATABASE/$INFLUX_RETENTION_POLICY to bucket $INFLUX_BUCKET ($bucket_id)"
