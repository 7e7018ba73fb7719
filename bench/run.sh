#!/usr/bin/env bash
# `make bench`: Berth beside Debian's docker-registry (CNCF Distribution 2.8) and nginx, same content,
# same loads, alternating rounds; then TLS beside nginx (bench/tls.py), the mirror's cold pull (bench/mirror.py) and the web UI's pages (bench/ui.py).
# Each writes its section of bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=""
for p in wrk docker-registry nginx-light; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
python3 -c "import requests" 2>/dev/null || python3 -m pip install -q requests
python3 bench/bench.py "$@"
python3 bench/tls.py
python3 bench/mirror.py
python3 bench/ui.py
