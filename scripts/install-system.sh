#!/usr/bin/env bash
# Install what vitco needs from the system: bubblewrap, prlimit/setpriv (util-linux), graphviz
# (workflow pictures) and the dedicated unprivileged uid `vitco-sandbox` that sandboxed code runs as when vitco
# itself runs as root.
#
# Idempotent and non-interactive: safe to run as root under CI with no stdin, any number of
# times. When not run as root it changes nothing, prints what it would need, and exits 0 so
# that a developer's `scripts/install.sh` still completes.
#
# The uid is never used by a service: sandboxes are cleaned up through their pid namespace,
# but a sharing service would still compete with sandboxed code for the uid's process limit.
set -euo pipefail

SANDBOX_USER="${VITCO_SANDBOX_USER:-vitco-sandbox}"
export DEBIAN_FRONTEND=noninteractive

say() { printf 'install-system: %s\n' "$*"; }

need_pkgs=()
command -v bwrap >/dev/null 2>&1 || need_pkgs+=(bubblewrap)
{ command -v prlimit >/dev/null 2>&1 && command -v setpriv >/dev/null 2>&1; } \
    || need_pkgs+=(util-linux)
# Graphviz draws workflow pictures (vitco workflow show --png); optional, but tests use it.
command -v dot >/dev/null 2>&1 || need_pkgs+=(graphviz)

if [ "$(id -u)" -ne 0 ]; then
    if [ "${#need_pkgs[@]}" -gt 0 ]; then
        say "not root: would run 'apt-get install -y ${need_pkgs[*]}' (run this script as root)"
    fi
    if ! getent passwd "$SANDBOX_USER" >/dev/null 2>&1; then
        say "not root: would create the system user '$SANDBOX_USER' (only needed when vitco runs as root)"
    fi
    say "not root: nothing changed"
    exit 0
fi

if [ "${#need_pkgs[@]}" -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1; then
        say "installing ${need_pkgs[*]}"
        apt-get update -qq </dev/null
        apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" </dev/null
    else
        say "no apt-get here: install ${need_pkgs[*]} with this system's package manager" >&2
        exit 1
    fi
else
    say "bubblewrap $(bwrap --version | awk '{print $2}') and util-linux already installed"
fi

if getent passwd "$SANDBOX_USER" >/dev/null 2>&1; then
    if [ "$(id -u "$SANDBOX_USER")" -eq 0 ]; then
        say "user '$SANDBOX_USER' is uid 0: pick another VITCO_SANDBOX_USER" >&2
        exit 1
    fi
    say "user '$SANDBOX_USER' already exists (uid $(id -u "$SANDBOX_USER"))"
else
    # A system user with its own group, no home directory and no login shell.
    nologin="$(command -v nologin || echo /usr/sbin/nologin)"
    if command -v useradd >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell "$nologin" --comment "vitco sandbox (never a service)" "$SANDBOX_USER"
    else
        adduser --system --group --no-create-home --home /nonexistent \
            --shell "$nologin" "$SANDBOX_USER"
    fi
    say "created user '$SANDBOX_USER' (uid $(id -u "$SANDBOX_USER"))"
fi
