#!/bin/sh
# The hot standby: on first start, a base backup of the primary with a replication slot and
# standby.signal (-R); then PostgreSQL streams from it. Promote with:
#   docker compose exec postgres-standby su postgres -c "pg_ctl promote -D /var/lib/postgresql/data"
set -eu
PGDATA=/var/lib/postgresql/data
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    until pg_isready -h "$PRIMARY_HOST" -U replicator; do sleep 2; done
    PGPASSWORD="$REPLICATION_PASSWORD" pg_basebackup -h "$PRIMARY_HOST" -U replicator \
        -D "$PGDATA" -R -X stream -C -S standby1 --checkpoint=fast
    chmod 700 "$PGDATA"
fi
exec postgres -c config_file=/etc/hotline-postgres/postgresql.conf
