#!/bin/sh
# Runs once, when docker-compose's PostgreSQL first creates its data directory: the role audience queries run as
# (SOURCE_DATABASE_URL). It can log in and read what you grant it, and nothing of audience-sync's own state or the
# emulator's. Grant it your audience tables, e.g.:
#   docker compose exec postgresql psql -U temporal -d postgres -c 'GRANT SELECT ON users TO audience_sync_reader'
set -eu
psql -v ON_ERROR_STOP=1 -v password="$AUDIENCE_SYNC_READER_PASSWORD" --username "$POSTGRES_USER" --dbname postgres <<'SQL'
CREATE ROLE audience_sync_reader LOGIN PASSWORD :'password';
SQL
