#!/bin/bash
# Second database and role for the warehouse, beside Airflow's metadata database.
# The password comes from the container environment (POSTGRES_PASSWORD), never from git.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE rhp LOGIN PASSWORD '${POSTGRES_PASSWORD}';
CREATE DATABASE warehouse OWNER rhp;
SQL
