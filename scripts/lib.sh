# shellcheck shell=bash
# Provisioning steps shared by run.sh, test.sh and bench.sh (sourced, never executed).
#
# Services are found in this order, for PostgreSQL and for Redis alike:
#   1. DATABASE_URL / REDIS_URL when set (never second-guessed: unreachable means stop with a clear message);
#   2. the local server on its standard port (127.0.0.1:5432, 127.0.0.1:6379);
#   3. the system server, started (pg_ctlcluster / redis-server on 6379), left running like any system service;
#   4. a private server under var/ on ports 5433 / 6380, stopped again when the calling script exits.

PROJECT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$PROJECT_ROOT/.venv"
VAR_DIR="$PROJECT_ROOT/var"
PG_VERSION="${PG_VERSION:-15}"
PG_BIN="/usr/lib/postgresql/$PG_VERSION/bin"
PRIVATE_PG_PORT="${PROXIMA_PRIVATE_PG_PORT:-5433}"
PRIVATE_REDIS_PORT="${PROXIMA_PRIVATE_REDIS_PORT:-6380}"
STARTED_PRIVATE_PG=0
STARTED_PRIVATE_REDIS=0

step() { printf '\n==> %s\n' "$*" >&2; }
info() { printf '    %s\n' "$*" >&2; }
die() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }

dbtool() { "$VENV/bin/python" "$PROJECT_ROOT/scripts/dbtool.py" "$@"; }

# Variables from .env (if any) for whatever the environment does not already set.
load_env_file() {
    local file="$PROJECT_ROOT/.env" line key value
    [[ -f $file ]] || return 0
    info "reading $file (the environment takes precedence)"
    while IFS= read -r line || [[ -n $line ]]; do
        [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
        [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
        key="${BASH_REMATCH[2]}"
        value="${BASH_REMATCH[3]}"
        value="${value%\"}"; value="${value#\"}"; value="${value%\'}"; value="${value#\'}"
        if [[ -z ${!key+x} ]]; then export "$key=$value"; fi
    done <"$file"
}

require_venv() {
    [[ -x $VENV/bin/flask ]] || die "$VENV is missing or incomplete: run this through 'make' (make run / make test)."
}

# --- PostgreSQL --------------------------------------------------------------------------------------------

start_system_postgres() {
    command -v pg_ctlcluster >/dev/null 2>&1 || return 1
    if [[ ! -d /etc/postgresql/$PG_VERSION/main ]]; then
        command -v pg_createcluster >/dev/null 2>&1 || return 1
        info "creating the system cluster $PG_VERSION/main"
        pg_createcluster "$PG_VERSION" main >/dev/null 2>&1 || return 1
    fi
    info "starting the system cluster: pg_ctlcluster --skip-systemctl-redirect $PG_VERSION main start"
    pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main start 2>&1 | sed 's/^/    /' >&2 || true
    dbtool pg-wait "postgresql://postgres@127.0.0.1:5432/postgres" 30 2>/dev/null
}

_as_postgres() {
    # initdb and postgres refuse to run as root: use the postgres system account then.
    if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_private_postgres() {
    local dir="$VAR_DIR/postgres"
    [[ -x $PG_BIN/initdb ]] || die "PostgreSQL $PG_VERSION binaries not found in $PG_BIN (apt-get install postgresql-$PG_VERSION-postgis-3)."
    mkdir -p "$dir"
    chmod 755 "$VAR_DIR"
    if [[ $EUID -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || die "no 'postgres' system account to run a private PostgreSQL as"
        chown -R postgres: "$dir"
    fi
    if [[ ! -f $dir/data/PG_VERSION ]]; then
        info "initialising a private cluster in $dir/data"
        _as_postgres "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
            >"$dir/initdb.log" 2>&1 || die "initdb failed, see $dir/initdb.log"
    fi
    info "starting a private PostgreSQL on 127.0.0.1:$PRIVATE_PG_PORT (log: $dir/server.log)"
    _as_postgres "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $PRIVATE_PG_PORT -k $dir -c listen_addresses=127.0.0.1" start >/dev/null \
        || die "the private PostgreSQL did not start, see $dir/server.log"
    STARTED_PRIVATE_PG=1
}

stop_private_postgres() {
    [[ $STARTED_PRIVATE_PG -eq 1 ]] || return 0
    info "stopping the private PostgreSQL"
    _as_postgres "$PG_BIN/pg_ctl" -D "$VAR_DIR/postgres/data" -m fast -w stop >/dev/null 2>&1 || true
    STARTED_PRIVATE_PG=0
}

# ensure_postgres DBNAME: exports DATABASE_URL pointing at a reachable server (the database may not exist yet).
ensure_postgres() {
    local name=$1 url
    step "PostgreSQL"
    if [[ -n ${DATABASE_URL:-} ]]; then
        dbtool pg-wait "$DATABASE_URL" 10 \
            || die "DATABASE_URL=$(dbtool describe "$DATABASE_URL") does not answer. Start that server, or unset DATABASE_URL to use (or start) a local one."
        info "using DATABASE_URL=$(dbtool describe "$DATABASE_URL")"
        return 0
    fi
    url="postgresql+psycopg://postgres@127.0.0.1:5432/$name"
    if dbtool pg-ping "$url" 2>/dev/null; then
        info "local server on 127.0.0.1:5432"
    elif info "nothing answers on 127.0.0.1:5432" && start_system_postgres; then
        info "system cluster started on 127.0.0.1:5432"
    else
        url="postgresql+psycopg://postgres@127.0.0.1:$PRIVATE_PG_PORT/$name"
        if dbtool pg-ping "$url" 2>/dev/null; then
            info "private server already running on 127.0.0.1:$PRIVATE_PG_PORT"
        else
            start_private_postgres
            dbtool pg-wait "$url" 30 || die "the private PostgreSQL does not answer on port $PRIVATE_PG_PORT"
        fi
    fi
    export DATABASE_URL="$url"
    info "DATABASE_URL=$(dbtool describe "$DATABASE_URL")"
}

ensure_database() {
    step "Database"
    dbtool pg-ensure-db "$DATABASE_URL" || die "could not create the database of $(dbtool describe "$DATABASE_URL")"
}

# ensure_roles: when DATABASE_URL is an administrator's, create the database's owner and application roles and
# export DATABASE_OWNER_URL (migrations) and DATABASE_URL (the application role: what the service connects as).
ensure_roles() {
    local urls
    step "Database roles (owner for migrations, application role for the service)"
    urls="$(dbtool pg-ensure-roles "$DATABASE_URL")" || die "could not create the roles of $(dbtool describe "$DATABASE_URL")"
    if [[ -z $urls ]]; then
        info "$(dbtool describe "$DATABASE_URL") is not a superuser: used as it is (see docs/deploy.md for the roles)"
        return 0
    fi
    export DATABASE_OWNER_URL="${urls%% *}" DATABASE_URL="${urls##* }"
    info "owner       $(dbtool describe "$DATABASE_OWNER_URL")"
    info "application $(dbtool describe "$DATABASE_URL")"
}

# --- Redis -------------------------------------------------------------------------------------------------

start_system_redis() {
    command -v redis-server >/dev/null 2>&1 || return 1
    local dir=/var/lib/redis log=/var/log/redis/proxima.log
    if [[ ! -w $dir ]] || [[ ! -w $(dirname "$log") ]]; then return 1; fi
    info "starting redis-server on 127.0.0.1:6379 (no persistence)"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
        --dir "$dir" --logfile "$log" >/dev/null 2>&1 || return 1
    dbtool redis-wait "redis://127.0.0.1:6379/0" 10 2>/dev/null
}

start_private_redis() {
    local dir="$VAR_DIR/redis"
    command -v redis-server >/dev/null 2>&1 || die "redis-server is not installed (apt-get install redis-server)."
    mkdir -p "$dir"
    info "starting a private Redis on 127.0.0.1:$PRIVATE_REDIS_PORT (log: $dir/redis.log)"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$PRIVATE_REDIS_PORT" --save "" --appendonly no \
        --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
        || die "the private Redis did not start, see $dir/redis.log"
    STARTED_PRIVATE_REDIS=1
}

stop_private_redis() {
    [[ $STARTED_PRIVATE_REDIS -eq 1 ]] || return 0
    info "stopping the private Redis"
    if [[ -f $VAR_DIR/redis/redis.pid ]]; then kill "$(cat "$VAR_DIR/redis/redis.pid")" 2>/dev/null || true; fi
    STARTED_PRIVATE_REDIS=0
}

# ensure_redis DBNUMBER: exports REDIS_URL pointing at a reachable Redis.
ensure_redis() {
    local number=$1 url
    step "Redis"
    if [[ -n ${REDIS_URL:-} ]]; then
        dbtool redis-wait "$REDIS_URL" 10 \
            || die "REDIS_URL=$(dbtool describe "$REDIS_URL") does not answer. Start that server, or unset REDIS_URL to use (or start) a local one."
        info "using REDIS_URL=$(dbtool describe "$REDIS_URL")"
        return 0
    fi
    url="redis://127.0.0.1:6379/$number"
    if dbtool redis-ping "$url" 2>/dev/null; then
        info "local server on 127.0.0.1:6379"
    elif info "nothing answers on 127.0.0.1:6379" && start_system_redis; then
        info "redis-server started on 127.0.0.1:6379"
    else
        url="redis://127.0.0.1:$PRIVATE_REDIS_PORT/$number"
        if dbtool redis-ping "$url" 2>/dev/null; then
            info "private server already running on 127.0.0.1:$PRIVATE_REDIS_PORT"
        else
            start_private_redis
            dbtool redis-wait "$url" 10 || die "the private Redis does not answer on port $PRIVATE_REDIS_PORT"
        fi
    fi
    export REDIS_URL="$url"
    info "REDIS_URL=$(dbtool describe "$REDIS_URL")"
}

stop_private_servers() {
    stop_private_redis
    stop_private_postgres
}

# --- Schema, reference data, demo accounts ------------------------------------------------------------------

# `flask db upgrade heads`, `flask data load` and (with --seed-demo) `flask officer seed-demo`, in one process so
# the app is loaded once: see scripts/bootstrap.py.
migrate_and_load() {
    (cd "$PROJECT_ROOT" && "$VENV/bin/python" scripts/bootstrap.py "$@") || die "preparing the database failed (see above)"
}
