#!/bin/bash
# First start of the PostgreSQL container only (an empty data volume): the results database of
# dashcam-processor, owned by its own role, beside Prefect's. The `dashcam` role cannot reach Prefect's
# database, and the workers get only this role's password.
set -euo pipefail
: "${DASHCAM_DB_PASSWORD:?DASHCAM_DB_PASSWORD is not set}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v pw="$DASHCAM_DB_PASSWORD" <<'SQL'
CREATE ROLE dashcam LOGIN PASSWORD :'pw';
CREATE DATABASE dashcam OWNER dashcam;
REVOKE CONNECT ON DATABASE prefect FROM PUBLIC;
SQL
