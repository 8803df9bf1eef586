#!/usr/bin/env bash
# Install the Debian packages Proxima needs when they are missing: PostGIS, Redis, Node/npm, with --browser
# Chromium + ChromeDriver and nginx (only the test suite drives a browser, one of its tests through nginx), and
# with --cluster what `make cluster` runs (PgBouncer, pg_partman, Redis Sentinel). Idempotent: installs nothing
# when all are there.
set -euo pipefail

browser=0
cluster=0
for flag in "$@"; do
    case $flag in
        --browser) browser=1 ;;
        --cluster) cluster=1 ;;
        *) echo "ERROR: unknown flag $flag (expected --browser or --cluster)" >&2; exit 2 ;;
    esac
done

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
local_url() {  # unset, or pointing at this machine
    [[ -z $1 ]] || [[ $1 =~ ://([^@/]*@)?(127\.0\.0\.1|localhost|\[::1\])([:/]|$) ]] || [[ $1 =~ ^[a-z+]+:/// ]]
}

packages=()
if local_url "${DATABASE_URL:-}"; then
    installed "postgresql-${PG_VERSION:-15}-postgis-3" || packages+=("postgresql-${PG_VERSION:-15}-postgis-3")
fi
if local_url "${REDIS_URL:-}" && ! command -v redis-server >/dev/null 2>&1; then
    packages+=(redis-server)
fi
# Node.js may come from another repository that bundles npm: ask only for what is really missing.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
if command -v node >/dev/null 2>&1 && ! command -v npm >/dev/null 2>&1; then packages+=(npm); fi
browser_packages=()
if [[ $browser -eq 1 ]]; then
    installed chromium || browser_packages+=(chromium)
    installed chromium-driver || browser_packages+=(chromium-driver)
    # The TLS deployment test puts Debian's nginx in front of gunicorn (docs/deploy.md).
    command -v nginx >/dev/null 2>&1 || browser_packages+=(nginx-light)
fi
if [[ $cluster -eq 1 ]]; then
    # The cluster runs its own servers on loopback from these binaries; the packages' system services (pgbouncer,
    # redis-sentinel) are not used.
    installed pgbouncer || packages+=(pgbouncer)
    installed "postgresql-${PG_VERSION:-15}-partman" || packages+=("postgresql-${PG_VERSION:-15}-partman")
    installed redis-sentinel || packages+=(redis-sentinel)
    installed "postgresql-${PG_VERSION:-15}-postgis-3" || packages+=("postgresql-${PG_VERSION:-15}-postgis-3")
    command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
fi

if [[ ${#packages[@]} -eq 0 && ${#browser_packages[@]} -eq 0 ]]; then
    echo "==> System packages: all present" >&2
    exit 0
fi

echo "==> System packages: installing ${packages[*]} ${browser_packages[*]}" >&2
sudo=()
if [[ $EUID -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || {
        echo "ERROR: not root and no sudo: install these Debian packages first: ${packages[*]} ${browser_packages[*]}" >&2
        exit 1
    }
    sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
if [[ ${#packages[@]} -gt 0 ]]; then
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
if ! command -v npm >/dev/null 2>&1; then  # Debian's nodejs comes without npm
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
if [[ ${#browser_packages[@]} -gt 0 ]]; then
    # With recommends: fonts, so that screenshots of the console show real text.
    "${sudo[@]}" apt-get install -y -qq "${browser_packages[@]}" >/dev/null
fi
echo "    done" >&2
