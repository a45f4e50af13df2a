#!/usr/bin/env bash
# lib/check_floors.sh: fail when a file of lib/ includes a header of a
# higher floor, or when a file of lib/ has no floor.
#
# The floors are the table of lib/README.md: a row starts with "| N." and
# names its files in backquotes (`tcache.c`, `secure.[ch]`, `debug*`). A
# header not named takes the floor of the .c of the same name. A file may
# include the headers of its own floor and of every floor below (a larger
# N). Run by CTest as lib_floors; exit 0 when every arrow points down.
set -euo pipefail

lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
declare -A floor=()
declare -a patterns=() pattern_floor=()

while IFS= read -r row; do
    n=${row#| }
    n=${n%%.*}
    files=${row#*|*|*|}
    while [[ $files =~ \`([^\`]+)\` ]]; do
        name=${BASH_REMATCH[1]}
        files=${files#*"\`$name\`"}
        case $name in
        *'[ch]') floor[${name%'[ch]'}c]=$n floor[${name%'[ch]'}h]=$n ;;
        *'*') patterns+=("$name") pattern_floor+=("$n") ;;
        *) floor[$name]=$n ;;
        esac
    done
done < <(grep -E '^\| [0-9]+\.' "$lib/README.md")

floor_of() {
    local f=$1
    if [ -n "${floor[$f]:-}" ]; then
        echo "${floor[$f]}"
        return
    fi
    for i in "${!patterns[@]}"; do
        # shellcheck disable=SC2053
        if [[ $f == ${patterns[$i]} ]]; then
            echo "${pattern_floor[$i]}"
            return
        fi
    done
    if [[ $f == *.h && -n "${floor[${f%.h}.c]:-}" ]]; then
        echo "${floor[${f%.h}.c]}"
        return
    fi
    echo ""
}

bad=0
for path in "$lib"/*.c "$lib"/*.h; do
    f=$(basename "$path")
    mine=$(floor_of "$f")
    if [ -z "$mine" ]; then
        echo "lib/$f: in no floor of lib/README.md" >&2
        bad=1
        continue
    fi
    while IFS=: read -r line inc; do
        inc=${inc#*\"}
        inc=${inc%%\"*}
        [ -f "$lib/$inc" ] || continue # not a lib/ header (smalloc.h, ...)
        theirs=$(floor_of "$inc")
        if [ -z "$theirs" ]; then
            echo "lib/$f:$line: includes $inc, which is in no floor" >&2
            bad=1
        elif [ "$theirs" -lt "$mine" ]; then
            echo "lib/$f:$line: floor $mine includes $inc of floor $theirs (upward)" >&2
            bad=1
        fi
    done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$path" || true)
done
if [ "$bad" = 0 ]; then
    echo "lib/: every include points down (${#floor[@]} files named, ${#patterns[@]} patterns)"
fi
exit "$bad"
