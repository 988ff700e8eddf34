#!/usr/bin/env bash
# Proves the README's first two commands on a fresh Debian 12 machine: builds a clean bookworm root
# with mmdebstrap from the Debian mirror this machine's apt uses, copies the repository (tracked and
# untracked files that git does not ignore) and ../shared into it, and runs the two commands of the
# README's first code block there, as root, exactly as written. Exits non-zero on any failure.
# Needs root; takes 15-20 minutes (most of it apt and the build). Not run in CI.
#
#   bash scripts/check_fresh.sh [ROOT_DIR]     (default: a new temporary directory, removed after)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
shared=$(cd ../shared && pwd)

[ "$(id -u)" -eq 0 ] || { echo "check_fresh: must run as root (mmdebstrap, chroot, mount)" >&2; exit 1; }
if ! command -v mmdebstrap >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap
fi

# The README's first ```sh block: its non-comment lines are the two commands.
mapfile -t commands < <(awk '/^```sh/{n++; next} /^```/{if (n == 1) exit} n == 1 && !/^[[:space:]]*(#|$)/' README.md)
if [ ${#commands[@]} -ne 2 ]; then
  echo "check_fresh: expected 2 commands in README.md's first sh block, found ${#commands[@]}" >&2
  exit 1
fi

root=${1:-$(mktemp -d /var/tmp/lightvlm-fresh.XXXXXX)}
cleanup() {
  for m in dev/pts dev proc sys; do mountpoint -q "$root/$m" && umount -l "$root/$m"; done
  [ -n "${1:-}" ] || rm -rf --one-file-system "$root"
}
trap 'cleanup "${1:-}"' EXIT

# This machine's Debian mirror (deb822 or one-line sources).
mirror=$(grep -hoE '^URIs: *\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' |
  grep -m1 '/debian$' || true)
[ -n "$mirror" ] || mirror=$(grep -hoE '^deb +\S+/debian +bookworm ' /etc/apt/sources.list 2>/dev/null |
  awk '{print $2}' | head -n1)
mirror=${mirror:-http://deb.debian.org/debian}
echo "== check_fresh: bookworm from $mirror into $root"
mmdebstrap --variant=minbase --include=ca-certificates \
  bookworm "$root" "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
  "deb ${mirror%/debian}/debian-security bookworm-security main"

mkdir -p "$root/work/main" "$root/work/shared"
git ls-files -z --cached --others --exclude-standard | tar -C "$repo" --null -T - -cf - | tar -C "$root/work/main" -xf -
cp -a "$shared/." "$root/work/shared/"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# The network as this machine reaches it: where HTTPS goes through a proxy with its own CA (this
# workplace's), the fresh root must trust it too, or setup.sh's pip cannot reach PyPI.
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"

status=0
for cmd in "${commands[@]}"; do
  echo "== check_fresh: $cmd"
  start=$(date +%s)
  if chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "cd /work/main && $cmd"; then
    echo "== check_fresh: passed in $(($(date +%s) - start)) s: $cmd"
  else
    echo "== check_fresh: FAILED (exit $?) after $(($(date +%s) - start)) s: $cmd" >&2
    status=1
    break
  fi
done
[ $status -eq 0 ] && echo "== check_fresh: both README commands passed on a fresh Debian 12 root"
exit $status
