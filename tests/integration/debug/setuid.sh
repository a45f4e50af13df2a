#!/usr/bin/env bash
# A set-user-ID root program linked with libsmalloc, run by an unprivileged
# user who sets SMALLOC_STATS, SMALLOC_STATS_FILE, SMALLOC_VERBOSE and
# SMALLOC_DEBUG (and SMALLOC_STATS_INTERVAL, SMALLOC_STATS_SIGNAL), must ignore all of them (lib/options.h, AT_SECURE): no file
# created or touched as root, no verbose line, no debug mode. Needs root
# (to make the program set-user-ID and to add a user for the test), and a
# directory on a filesystem mounted without nosuid; skipped (status 77)
# otherwise, saying why.
#   setuid.sh REPORT_CHILD WORK_DIR
set -euo pipefail
# shellcheck source=../../support/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../support/checks.sh"
child=$1 work=$2
[ "$(id -u)" = 0 ] || skip "not root: cannot make a set-user-ID root program"
command -v useradd >/dev/null && command -v userdel >/dev/null || skip "useradd/userdel missing"
command -v setpriv >/dev/null || skip "setpriv missing (util-linux)"
mkdir -p "$work"
tmp=$(mktemp -d "$work/setuid.XXXXXX")
user=smtest$$
cleanup() {
  userdel "$user" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
if findmnt -n -o OPTIONS -T "$tmp" | tr , '\n' | grep -qx nosuid; then
  skip "$tmp is on a filesystem mounted nosuid"
fi
useradd --system --no-create-home --shell /usr/sbin/nologin "$user" >/dev/null || skip "useradd $user failed"
uid=$(id -u "$user") gid=$(id -g "$user")
chmod 755 "$tmp"
cp "$child" "$tmp/prog"
chown root:root "$tmp/prog"
mkdir -m 700 "$tmp/rootonly"
printf 'root data\n' >"$tmp/rootonly/existing"
chmod 600 "$tmp/rootonly/existing"
before=$(stat -c '%s %Y %a %U' "$tmp/rootonly/existing")
as_user() { setpriv --reuid="$uid" --regid="$gid" --clear-groups env -i PATH="$PATH" "$@"; }

# Control: not set-user-ID, the same variables take effect (the test can fail).
chmod 755 "$tmp/prog"
as_user SMALLOC_VERBOSE=1 SMALLOC_DEBUG=1 "$tmp/prog" ids >"$tmp/out" 2>"$tmp/err" || fail "control run"
grep -q '^smalloc: libsmalloc ' "$tmp/err" || fail "control: SMALLOC_VERBOSE did not take: $(cat "$tmp/err")"
grep -qx "euid=$uid debug=1" "$tmp/out" || fail "control: $(cat "$tmp/out")"
echo "ok 1 - control: without the set-user-ID bit the options take effect"

chmod 4755 "$tmp/prog"
for file in "$tmp/rootonly/x" "$tmp/rootonly/existing"; do
  as_user SMALLOC_STATS=1 SMALLOC_STATS_FILE="$file" SMALLOC_VERBOSE=1 SMALLOC_DEBUG=1 \
    "$tmp/prog" ids >"$tmp/out" 2>"$tmp/err" || fail "set-user-ID run: $(cat "$tmp/err")"
  grep -qx "euid=0 debug=0" "$tmp/out" ||
    fail "want euid 0 and no debug mode, got: $(cat "$tmp/out") (stderr: $(cat "$tmp/err"))"
  ! grep -q 'smalloc:\|libsmalloc' "$tmp/err" || fail "libsmalloc spoke on stderr: $(cat "$tmp/err")"
done
[ ! -e "$tmp/rootonly/x" ] || fail "created $(stat -c '%U %a' "$tmp/rootonly/x") $tmp/rootonly/x"
[ "$(stat -c '%s %Y %a %U' "$tmp/rootonly/existing")" = "$before" ] &&
  [ "$(cat "$tmp/rootonly/existing")" = "root data" ] || fail "the existing root file was touched"
echo "ok 2 - set-user-ID root: SMALLOC_STATS(_FILE), SMALLOC_VERBOSE, SMALLOC_DEBUG ignored"

# Set-group-ID alone is a secure execution too.
chmod 2755 "$tmp/prog"
as_user SMALLOC_VERBOSE=1 SMALLOC_DEBUG=1 "$tmp/prog" ids >"$tmp/out" 2>"$tmp/err" || fail "setgid run"
grep -qx "euid=$uid debug=0" "$tmp/out" && ! grep -q 'smalloc:' "$tmp/err" ||
  fail "set-group-ID: $(cat "$tmp/out") $(cat "$tmp/err")"
echo "ok 3 - set-group-ID: options ignored"
# Running reports too: no interval report, no handler for the signal (its
# default action then ends the program), no file.
chmod 4755 "$tmp/prog"
setpriv --reuid="$uid" --regid="$gid" --clear-groups env -i PATH="$PATH" SMALLOC_STATS_INTERVAL=1 \
  SMALLOC_STATS_SIGNAL=USR1 SMALLOC_STATS_FILE="$tmp/rootonly/x" "$tmp/prog" until-term \
  >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 200); do grep -q '^ready$' "$tmp/out" && break; sleep 0.05; done
grep -q '^ready$' "$tmp/out" || { kill -KILL "$pid"; fail "set-user-ID until-term did not start"; }
caught=$(sed -n 's/^SigCgt:\t//p' "/proc/$pid/status")
kill -USR1 "$pid"
status=0
wait "$pid" || status=$?
[ $((0x$caught >> 9 & 1)) = 0 ] || fail "set-user-ID: SIGUSR1 caught (SigCgt $caught)"
[ "$status" = 138 ] || fail "set-user-ID: status $status after SIGUSR1, want 138 (its default action)"
[ ! -e "$tmp/rootonly/x" ] && [ ! -s "$tmp/err" ] || fail "set-user-ID: a report: $(cat "$tmp/err")"
echo "ok 4 - set-user-ID: SMALLOC_STATS_INTERVAL and SMALLOC_STATS_SIGNAL ignored"
echo "setuid: all 4 checks passed"
