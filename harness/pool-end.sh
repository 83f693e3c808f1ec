#!/usr/bin/env bash
# Puts the engine's pool rotation at its end, then runs a command: networks
# are made and removed until one gets 172.30.0.0/16, so the next network the
# engine allocates from its default pools is 172.31.0.0/16 — the last /16 of
# the 172.17–172.31 run, where a test that assumed which subnet Docker picks
# once failed (Docker walks its pools in turn instead of taking the lowest
# free one).
#
#   harness/pool-end.sh cargo test --test evidence -- --nocapture targets_outside
#
# Engines with other default-address-pools, or with 172.31.0.0/16 taken,
# never come to it: the script says so and exits 1 without running anything.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; }

want=172.30.0.0/16
for i in $(seq 1 40); do
  name="netlab-pool-end-$$-$i"
  docker network create --label io.netlab.test=pool-end "$name" >/dev/null
  subnet=$(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}' "$name")
  docker network rm "$name" >/dev/null
  case " $subnet " in
    *" $want "*)
      echo "pool-end: network $i got $want; the engine's next one is 172.31.0.0/16" >&2
      exec "$@"
      ;;
  esac
done
echo "pool-end: 40 networks and none got $want: this engine's pools differ (last: $subnet)" >&2
exit 1
