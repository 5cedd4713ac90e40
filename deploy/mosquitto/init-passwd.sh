#!/bin/sh
# Makes Mosquitto's password file from the operator's .env (docker-compose.yml runs this as the one-shot
# mosquitto-init service before the broker starts; it can also run on a host with mosquitto_passwd installed):
#   MQTT_WORKER_PASSWORD      required: user printfarm-worker (the worker)
#   MQTT_SIMULATOR_PASSWORD   optional: user printfarm-simulator (the demo profile's simulated farm)
#   MQTT_ALERTS_PASSWORD      optional: user printfarm-alerts (reads the alert topics only)
#   MQTT_ORDERS_PASSWORD      optional: user printfarm-orders (the shop's orders on printfarm/orders/#)
#   MQTT_OPERATOR_PASSWORD    optional: user printfarm-operator (maintenance switches and failure labels)
#   MQTT_PRINTERS             optional: printer users, "id:password id:password …" (each may publish only under its
#                             own topics, deploy/mosquitto/acl)
#   MQTT_PLUGS                optional: smart-plug users, the same way, named as the plug (its Tasmota topic or
#                             Shelly prefix)
#   PASSWD_FILE               where the file goes (default /mosquitto/auth/passwd)
# Users already in the file that none of these name (printers added with mosquitto_passwd) are kept; the named ones
# get the password of this run, so changing .env and starting again rotates it.
set -eu
file="${PASSWD_FILE:-/mosquitto/auth/passwd}"
: "${MQTT_WORKER_PASSWORD:?set MQTT_WORKER_PASSWORD in .env (see .env.example)}"

mkdir -p "$(dirname "$file")"
[ -f "$file" ] || : > "$file"
chmod 0600 "$file"

set_user() {
    mosquitto_passwd -b "$file" "$1" "$2"
}

set_user printfarm-worker "$MQTT_WORKER_PASSWORD"
[ -z "${MQTT_SIMULATOR_PASSWORD:-}" ] || set_user printfarm-simulator "$MQTT_SIMULATOR_PASSWORD"
[ -z "${MQTT_ALERTS_PASSWORD:-}" ] || set_user printfarm-alerts "$MQTT_ALERTS_PASSWORD"
[ -z "${MQTT_ORDERS_PASSWORD:-}" ] || set_user printfarm-orders "$MQTT_ORDERS_PASSWORD"
[ -z "${MQTT_OPERATOR_PASSWORD:-}" ] || set_user printfarm-operator "$MQTT_OPERATOR_PASSWORD"

# Device users (printers, plugs): "id:password id:password …"; $1 names the variable in the error.
set_devices() {
    variable="$1"
    shift
    for entry in "$@"; do
        user="${entry%%:*}"
        password="${entry#*:}"
        if [ -z "$user" ] || [ "$user" = "$entry" ] || [ -z "$password" ]; then
            echo "$variable: '$user' has no password (write id:password)" >&2
            exit 2
        fi
        set_user "$user" "$password"
    done
}

# Word splitting of the lists is wanted: one entry per word.
# shellcheck disable=SC2086
set_devices MQTT_PRINTERS ${MQTT_PRINTERS:-}
# shellcheck disable=SC2086
set_devices MQTT_PLUGS ${MQTT_PLUGS:-}

# The broker runs as the mosquitto user and must read the file; nobody else may.
chown mosquitto:mosquitto "$file" 2>/dev/null || true
echo "mosquitto password file $file: $(cut -d: -f1 "$file" | tr '\n' ' ')"
