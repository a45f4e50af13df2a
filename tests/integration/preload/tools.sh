#!/usr/bin/env bash
# Standard tools on a few MB of input generated here, deterministically:
# sort (text and numeric keys), awk and perl (hash tables of small strings),
# gzip (compress, then decompress). Each runs with and without libsmalloc;
# the outputs must be identical byte for byte, and the statistics of the
# allocation-heavy ones must show libsmalloc served them.
#   tools.sh LIBSMALLOC.so
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

# 120000 lines, about 2.7 MB: "key<k> <n> <word>", from a fixed LCG (the
# generator runs without libsmalloc).
env -u LD_PRELOAD perl -e '
  my $x = 12345;
  sub r { $x = ($x * 1103515245 + 12345) % 2147483648; return $x >> 8; }
  my @syl = qw(ka lo mi nu pe ra so ti vu ze);
  for my $i (1 .. 120000) {
    my $w = join "", map { $syl[r() % 10] } 1 .. (1 + r() % 6);
    printf "key%d %d %s\n", r() % 5000, r() % 1000000, $w;
  }' >"$tmp/input.txt"
size=$(wc -c <"$tmp/input.txt")
[ "$size" -gt 2000000 ] || fail "generated input is only $size bytes"
pass "generated $size bytes of input"

compare sort sort "$tmp/input.txt"
compare sort_numeric sort -k2,2n -k1,1 "$tmp/input.txt"
compare awk awk '{ n[$1]++; s[$1] += $2; w[$3]++ }
  END { for (k in n) printf "%s %d %d\n", k, n[k], s[k]; for (k in w) print k, w[k] }' "$tmp/input.txt"
compare perl perl -ne 'my ($k, $n, $w) = split; $c{$k}++; $s{$w} .= substr($n, 0, 2);
  END { for (sort keys %c) { print "$_ $c{$_}\n" } for (sort keys %s) { print "$_ ", length($s{$_}), "\n" } }' "$tmp/input.txt"
compare gzip gzip -9 -n -c "$tmp/input.txt"
gzip -9 -n -c "$tmp/input.txt" >"$tmp/input.gz"
compare gunzip gzip -d -c "$tmp/input.gz"
cmp -s "$tmp/gunzip.out" "$tmp/input.txt" || fail "gunzip under libsmalloc did not give the input back"
pass "gunzip under libsmalloc gave the input back"

# sort keeps its lines in a few big buffers; awk's and perl's hash tables are
# small blocks by the thousand.
expect_served sort 1 0
expect_served awk 1 5000
expect_served perl 1 5000
echo "tools.sh: all $checks checks passed"
