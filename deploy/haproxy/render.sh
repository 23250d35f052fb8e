#!/usr/bin/env bash
# Prints the HAProxy configuration for Agent Runtime replicas (haproxy.cfg.template):
#   deploy/haproxy/render.sh <listen address> <replica address>... > haproxy.cfg
# e.g. deploy/haproxy/render.sh :8080 10.0.0.11:8080 10.0.0.12:8080, then
#   haproxy -f haproxy.cfg   (-c to check it, -db to stay in the foreground)
set -euo pipefail
if (($# < 2)); then
  echo "usage: $0 <listen address, e.g. :8080> <replica host:port>..." >&2
  exit 2
fi
bind="$1"
shift
servers=""
i=0
for address in "$@"; do
  i=$((i + 1))
  servers+="  server replica${i} ${address}"$'\n'
done
template="$(dirname "${BASH_SOURCE[0]}")/haproxy.cfg.template"
while IFS= read -r line; do
  case "$line" in
    @SERVERS@) printf '%s' "$servers" ;;
    *@BIND@*) printf '%s\n' "${line//@BIND@/$bind}" ;;
    *) printf '%s\n' "$line" ;;
  esac
done <"$template"
