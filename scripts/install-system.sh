#!/usr/bin/env bash
# Install what vitco needs from the system: bubblewrap, prlimit/setpriv (util-linux), graphviz
# (workflow pictures), chromium (the web pages' browser tests), the dedicated unprivileged user `vitco-sandbox`, and a range of
# subordinate uids and gids reserved for it, which sandboxed code runs as when vitco itself
# runs as root.
#
# Idempotent and non-interactive: safe to run as root under CI with no stdin, any number of
# times. When not run as root it changes nothing, prints what it would need, and exits 0 so
# that a developer's `scripts/install.sh` still completes.
#
# The user is never used by a service: sandboxes are cleaned up through their pid namespace,
# but a sharing service would still compete with sandboxed code for the uid's process limit.
#
# The subordinate range (65536 ids in /etc/subuid and in /etc/subgid, the standard registry of
# uid ranges) gives every project a uid of its own: vitco runs project N's sandboxed code (N is
# the project's sandbox slot in the store) as uid FIRST+N and gid FIRST_GID+N (see
# src/vitco/sandbox/identity.py). So one project's code cannot touch another project's files,
# even through a mistake in a mount, and each project has its own RLIMIT_NPROC budget. No uid
# or gid of the range is ever a login or a service: none is in /etc/passwd or /etc/group, and
# useradd, podman and LXC leave registered ranges alone. A range the user already has in both
# files is kept (changing it would hand each project's files to another uid); otherwise the
# first multiple of 65536 at or above 1000000000 whose range overlaps no entry of either file
# and no uid or gid in use is reserved. With no usermod --add-subuids (shadow < 4.2) the lines
# are appended directly; either way under a lock, so parallel runs reserve one range.
set -euo pipefail

SANDBOX_USER="${VITCO_SANDBOX_USER:-vitco-sandbox}"
SUBID_COUNT=65536
SUBID_FLOOR=1000000000
SUBID_LOCK=/run/vitco-install-system.lock  # /run: only root can create files there
export DEBIAN_FRONTEND=noninteractive

say() { printf 'install-system: %s\n' "$*"; }

# "START COUNT" of the first valid line of subuid/subgid file $1 for the sandbox user (named or
# by uid), or nothing. The same rules as vitco.sandbox.identity.subordinate_range.
first_range() {
    local uid
    uid="$(id -u "$SANDBOX_USER" 2>/dev/null || echo -)"
    [ -r "$1" ] || return 0
    awk -F: -v name="$SANDBOX_USER" -v uid="$uid" -v last=4294967294 '
        { sub(/^[ \t]+/, ""); sub(/[ \t\r]+$/, "") }
        NF == 3 && ($1 == name || $1 == uid) && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ \
            && $2 + 0 > 0 && $3 + 0 > 0 && $2 + $3 - 1 <= last {
            printf "%.0f %.0f\n", $2, $3
            exit
        }' "$1"
}

# The start of a free range of SUBID_COUNT ids: $1 (if given and free), else the first multiple
# of SUBID_COUNT at or above SUBID_FLOOR that overlaps no other owner's range in either file and
# no uid or gid in use.
free_range_start() {
    local uid
    uid="$(id -u "$SANDBOX_USER")"
    {
        for f in /etc/subuid /etc/subgid; do
            [ -r "$f" ] || continue
            awk -F: -v name="$SANDBOX_USER" -v uid="$uid" '
                { sub(/^[ \t]+/, ""); sub(/[ \t\r]+$/, "") }
                NF >= 3 && $1 != name && $1 != uid && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ {
                    printf "%.0f %.0f\n", $2, $2 + $3 - 1
                }' "$f"
        done
        { getent passwd || cat /etc/passwd; } | awk -F: '$3 ~ /^[0-9]+$/ { print $3, $3 }'
        { getent group || cat /etc/group; } | awk -F: '$3 ~ /^[0-9]+$/ { print $3, $3 }'
    } | awk -v want="${1:-}" -v floor="$SUBID_FLOOR" -v n="$SUBID_COUNT" -v last=4294967294 '
        { lo[NR] = $1 + 0; hi[NR] = $2 + 0 }
        function free(s,    i) {
            if (s + n - 1 > last) return 0
            for (i in lo) if (lo[i] <= s + n - 1 && hi[i] >= s) return 0
            return 1
        }
        END {
            if (want != "" && free(want + 0)) { printf "%.0f\n", want; exit }
            for (s = floor; s + n - 1 <= last; s += n) if (free(s)) { printf "%.0f\n", s; exit }
            exit 1
        }'
}

# Reserve the subordinate ranges the sandbox user lacks, keeping any it has.
reserve_subordinate_ids() {
    local uids gids start args=() lines=()
    mkdir -p "$(dirname "$SUBID_LOCK")"
    exec 9>>"$SUBID_LOCK"
    flock 9
    uids="$(first_range /etc/subuid)"
    gids="$(first_range /etc/subgid)"
    if [ -n "$uids" ] && [ -n "$gids" ]; then
        say "subordinate ids of '$SANDBOX_USER' already reserved (kept):" \
            "uids $(span "$uids"), gids $(span "$gids")"
        in_use_within "$uids" passwd
        in_use_within "$gids" group
    else
        # one start for both files where possible, so a project's uid and gid are equal
        if ! start="$(free_range_start "${uids%% *}${gids%% *}")"; then
            say "no free range of $SUBID_COUNT ids left for '$SANDBOX_USER' in /etc/subuid, /etc/subgid" >&2
            exit 1
        fi
        local range="$start-$((start + SUBID_COUNT - 1))"
        if [ -z "$uids" ]; then
            args+=(--add-subuids "$range")
            lines+=("/etc/subuid")
        fi
        if [ -z "$gids" ]; then
            args+=(--add-subgids "$range")
            lines+=("/etc/subgid")
        fi
        local f
        for f in /etc/subuid /etc/subgid; do
            # usermod refuses --add-subuids/--add-subgids when the file does not exist
            [ -e "$f" ] || install -m 0644 /dev/null "$f"
        done
        if usermod --help 2>&1 | grep -q -- --add-subuids; then
            usermod "${args[@]}" "$SANDBOX_USER"
            say "reserved subordinate ids $range for '$SANDBOX_USER' in ${lines[*]} (usermod)"
        else
            for f in "${lines[@]}"; do
                # a last line without its newline would swallow ours
                if [ -s "$f" ] && [ -n "$(tail -c 1 "$f")" ]; then echo >>"$f"; fi
                printf '%s:%s:%s\n' "$SANDBOX_USER" "$start" "$SUBID_COUNT" >>"$f"
            done
            say "reserved subordinate ids $range for '$SANDBOX_USER' in ${lines[*]}" \
                "(appended: this usermod has no --add-subuids)"
        fi
        uids="$(first_range /etc/subuid)"
        gids="$(first_range /etc/subgid)"
        if [ -z "$uids" ] || [ -z "$gids" ]; then
            say "the subordinate ids of '$SANDBOX_USER' are still missing after reserving them" >&2
            exit 1
        fi
    fi
    say "sandboxed code of project N runs as uid ${uids% *}+N, gid ${gids% *}+N," \
        "for N < $(( ${uids#* } < ${gids#* } ? ${uids#* } : ${gids#* } ))"
    exec 9>&-
}

# "FIRST-LAST" of a "START COUNT" range.
span() { printf '%s-%s' "${1% *}" "$(( ${1% *} + ${1#* } - 1 ))"; }

# Warn about ids of a kept range ("START COUNT") that /etc/$2 (passwd or group) also uses.
in_use_within() {
    local used
    used="$({ getent "$2" || cat "/etc/$2"; } | awk -F: -v lo="${1% *}" -v n="${1#* }" '
        $3 ~ /^[0-9]+$/ && $3 + 0 >= lo + 0 && $3 + 0 < lo + n { printf " %s(%s)", $1, $3 }')"
    if [ -n "$used" ]; then
        say "WARNING: the kept range $(span "$1") holds ids of $2 entries:$used;" \
            "they would share files with vitco projects" >&2
    fi
}

need_pkgs=()
command -v bwrap >/dev/null 2>&1 || need_pkgs+=(bubblewrap)
{ command -v prlimit >/dev/null 2>&1 && command -v setpriv >/dev/null 2>&1; } \
    || need_pkgs+=(util-linux)
# Graphviz draws workflow pictures (vitco workflow show --png); optional, but tests use it.
command -v dot >/dev/null 2>&1 || need_pkgs+=(graphviz)
# Chromium: the web pages' tests drive it through Playwright (tests/web); Playwright's own
# browser download (`playwright install`) is never used.
{ command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; } || need_pkgs+=(chromium)

if [ "$(id -u)" -ne 0 ]; then
    if [ "${#need_pkgs[@]}" -gt 0 ]; then
        say "not root: would run 'apt-get install -y ${need_pkgs[*]}' (run this script as root)"
    fi
    if ! getent passwd "$SANDBOX_USER" >/dev/null 2>&1; then
        say "not root: would create the system user '$SANDBOX_USER' (only needed when vitco runs as root)"
    fi
    if [ -z "$(first_range /etc/subuid)" ] || [ -z "$(first_range /etc/subgid)" ]; then
        say "not root: would reserve $SUBID_COUNT subordinate uids and gids for '$SANDBOX_USER'"
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

reserve_subordinate_ids
