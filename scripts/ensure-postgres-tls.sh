#!/usr/bin/env bash
# Makes sure a second PostgreSQL cluster answers on 127.0.0.1:5433 over TLS only, for the tests
# that connect with sslmode=verify-full (libs/eventlog/tests/tls.rs):
#   - a test CA and a server certificate for localhost and 127.0.0.1, generated once with
#     openssl under ~/.cache/yeyak/test-tls (ca.crt is what the tests trust; other-ca.crt is a CA
#     that signed nothing, to prove a wrong CA is refused). The Kafka TLS tests' proxy serves the
#     same server certificate (yeyak_kafka::testing::TlsProxy);
#   - the cluster `yeyak_tls` of the installed PostgreSQL, created when missing, with ssl=on and a
#     pg_hba.conf that accepts TCP only over TLS (hostnossl is rejected).
# Prints the admin URL the tests use. With CI=true, anything missing fails the run.
set -euo pipefail
# Only the URL goes to stdout (the Makefile captures it): every tool's chatter goes to stderr, the
# URL to fd 3. The server started below must not inherit fd 3, or the capture never ends.
exec 3>&1 1>&2

port=5433
cluster=yeyak_tls
dir="${XDG_CACHE_HOME:-$HOME/.cache}/yeyak/test-tls"
give_up() {
  echo "ensure-postgres-tls: $*" >&2
  [ "${CI:-}" = "true" ] && exit 1 || exit 0
}

command -v pg_createcluster >/dev/null 2>&1 || give_up "pg_createcluster (postgresql-common) is not installed"
command -v openssl >/dev/null 2>&1 || give_up "openssl is not installed"
version=$(ls /etc/postgresql | sort -n | tail -1)

mkdir -p "$dir"
if [ ! -s "$dir/server.crt" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=yeyak test CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=yeyak unrelated CA" \
    -keyout "$dir/other-ca.key" -out "$dir/other-ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 3650 -extfile "$dir/server.ext" -out "$dir/server.crt" 2>/dev/null
fi

data="/var/lib/postgresql/$version/$cluster"
conf="/etc/postgresql/$version/$cluster"
if [ ! -d "$data" ] || [ ! -f "$conf/postgresql.conf" ]; then
  # A dropped cluster leaves our conf.d file behind; start from nothing.
  rm -rf "$conf"
  pg_createcluster "$version" "$cluster" --port "$port" >/dev/null
fi
install -o postgres -g postgres -m 0600 "$dir/server.key" "$data/yeyak-server.key"
install -o postgres -g postgres -m 0644 "$dir/server.crt" "$data/yeyak-server.crt"
cat > "$conf/conf.d/yeyak-tls.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
ssl = on
ssl_cert_file = '$data/yeyak-server.crt'
ssl_key_file = '$data/yeyak-server.key'
ssl_min_protocol_version = 'TLSv1.2'
max_connections = 40
shared_buffers = 32MB
CONF
cat > "$conf/pg_hba.conf" <<HBA
# yeyak's TLS test cluster: the local socket for administration, TCP over TLS only.
local     all all                trust
hostssl   all all 127.0.0.1/32   trust
hostnossl all all 0.0.0.0/0      reject
HBA
chown postgres:postgres "$conf/conf.d/yeyak-tls.conf" "$conf/pg_hba.conf"

if pg_lsclusters -h | awk -v c="$cluster" '$2 == c && $4 == "online" { found = 1 } END { exit !found }'; then
  pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" reload >/dev/null
else
  pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start 3>&- || give_up "the cluster $cluster did not start"
fi
deadline=$((SECONDS + 60))
until pg_isready -q -h 127.0.0.1 -p "$port"; do
  [ $SECONDS -ge $deadline ] && give_up "PostgreSQL did not answer on 127.0.0.1:$port within 60 s"
  sleep 0.5
done
echo "postgres://postgres@localhost:$port/postgres?sslmode=verify-full&sslrootcert=$dir/ca.crt" >&3
