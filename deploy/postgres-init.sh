#!/bin/sh
# Run once by the postgres image on an empty data directory (compose.yaml): the
# owner of the four databases (the migrations log in as it) and the service role
# (the services log in as it; `yeyak migrate --service-role` grants it only what
# a service needs). Passwords come from the container's environment.
set -eu
psql -v ON_ERROR_STOP=1 --username postgres <<SQL
CREATE ROLE yeyak_owner LOGIN PASSWORD '${YEYAK_OWNER_SECRET}';
CREATE ROLE yeyak_service LOGIN PASSWORD '${YEYAK_SERVICE_SECRET}';
CREATE DATABASE yeyak_catalog OWNER yeyak_owner;
CREATE DATABASE yeyak_reservations OWNER yeyak_owner;
CREATE DATABASE yeyak_notifications OWNER yeyak_owner;
CREATE DATABASE yeyak_settlement OWNER yeyak_owner;
SQL
