# bench/allocators.sh, sourced by run.sh, callgrind.sh and callgrind_python.sh:
# the library each allocator of the comparison is preloaded from.
#
# lib[NAME]: the file to LD_PRELOAD; empty for glibc (no preload) and for an
# allocator whose library is not installed (allocator_missing tells them
# apart). libsmalloc is the one of the build tree $build.
multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
find_lib() { # soname -> path, or nothing
    local f
    for f in "/usr/lib/$multiarch/$1" "/lib/$multiarch/$1" "/usr/lib/$1" "/usr/local/lib/$1"; do
        [ -f "$f" ] && { echo "$f"; return; }
    done
    ldconfig -p 2>/dev/null | awk -v so="$1" '$1 == so { print $NF; exit }'
}
declare -A lib
lib[glibc]=
lib[smalloc]=$build/lib/libsmalloc.so
lib[jemalloc]=$(find_lib libjemalloc.so.2)
lib[mimalloc]=$(find_lib libmimalloc.so.2)
lib[tcmalloc]=$(find_lib libtcmalloc_minimal.so.4)

allocator_missing() { # NAME -> true when it is not glibc and its library is not there
    [ "$1" != glibc ] && [ ! -f "${lib[$1]}" ]
}
