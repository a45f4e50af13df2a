#!/usr/bin/env bash
# Installs what is missing (Debian 12, apt-get), configures, builds and runs
# every test. Usage: tests/run.sh [--long]   (BUILD_DIR overrides build/)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
long=0
for arg in "$@"; do
  case "$arg" in
    --long) long=1 ;;
    *) echo "usage: tests/run.sh [--long]" >&2; exit 2 ;;
  esac
done

packages=(cmake make gcc g++ binutils pkg-config libcriterion-dev python3 valgrind
          clang-14 libclang-rt-14-dev gzip gawk perl coreutils man-db groff-base)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  sudo=
  [ "$(id -u)" = 0 ] || sudo="sudo -E"
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

echo "== configure ($build)"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSMALLOC_TESTS=ON \
      -DSMALLOC_LONG_TESTS=$([ $long = 1 ] && echo ON || echo OFF) >/dev/null
echo "== build"
cmake --build "$build" -j"$(nproc)"
echo "== test"
cd "$build"
ctest --output-on-failure --timeout 900
