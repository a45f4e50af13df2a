#!/usr/bin/env bash
# What the dynamic loader needs from a malloc replacement, checked on the
# built libsmalloc.so: initial-exec TLS only (STATIC_TLS flag; no
# __tls_get_addr call, no TLSDESC or DTPMOD relocation), since general-dynamic
# TLS may itself call malloc (glibc manual, "Replacing malloc"); and the
# whole malloc family exported.
#   elf.sh LIBSMALLOC.so
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

readelf -dW "$lib" | grep -q 'FLAGS.*STATIC_TLS' || fail "no STATIC_TLS flag: TLS is not initial-exec"
if nm -D --undefined-only "$lib" | grep -q '__tls_get_addr'; then
  fail "calls __tls_get_addr: general-dynamic TLS"
fi
if readelf -rW "$lib" | grep -E -q 'R_X86_64_(TLSDESC|DTPMOD64|DTPOFF64)'; then
  fail "dynamic TLS relocations"
fi
pass "initial-exec TLS only"

nm -D --defined-only "$lib" | awk '{ sub(/@.*/, "", $3); print $3 }' >"$tmp/exported"
for name in malloc free calloc realloc reallocarray posix_memalign aligned_alloc memalign \
            valloc pvalloc malloc_usable_size cfree; do
  grep -qx "$name" "$tmp/exported" || fail "$name is not exported"
done
pass "the malloc family of glibc's \"Replacing malloc\" (and reallocarray, cfree) exported"
echo "elf.sh: all $checks checks passed"
