#!/usr/bin/env bash
# Installs the pinned Kafka-API broker (tansu) used by the integration tests, caching the binary
# outside the repository so fresh clones reuse it. Prints the binary's path.
set -euo pipefail

version=0.6.0
cache="${YEYAK_CACHE_DIR:-$HOME/.cache/yeyak}"
root="$cache/tansu-$version"
bin="$root/bin/tansu"

if [ ! -x "$bin" ]; then
  echo "install-tansu: building tansu $version into $root (takes about 10 minutes, once)" >&2
  mkdir -p "$root"
  cargo install tansu --version "$version" --locked --features dynostore,libsql --root "$root" >&2
fi
echo "$bin"
