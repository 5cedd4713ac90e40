#!/bin/sh
# Makes Mosquitto's password file from the operator's .env (docker-compose.yml runs this as the one-shot
# mosquitto-init service before the broker starts; it can also run on a host with mosquitto_passwd installed):
#   MQTT_WORKER_PASSWORD      required: user printfarm-worker (the worker)
#   MQTT_SIMULATOR_PASSWORD   optional: user printfarm-simulator (the demo profile's simulated farm)
#   MQTT_ALERTS_PASSWORD      optional: user printfarm-alerts (reads the alert topics only)
#   MQTT_PRINTERS             optional: printer users, "id:password id:password …" (each may publish only under its
#                             own topics, deploy/mosquitto/acl)
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
for entry in ${MQTT_PRINTERS:-}; do
    user="${entry%%:*}"
    password="${entry#*:}"
    if [ -z "$user" ] || [ "$user" = "$entry" ] || [ -z "$password" ]; then
        echo "MQTT_PRINTERS: '$user' has no password (write id:password)" >&2
        exit 2
    fi
    set_user "$user" "$password"
done

# The broker runs as the mosquitto user and must read the file; nobody else may.
chown mosquitto:mosquitto "$file" 2>/dev/null || true
echo "mosquitto password file $file: $(cut -d: -f1 "$file" | tr '\n' ' ')"
