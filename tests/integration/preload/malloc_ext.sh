#!/usr/bin/env bash
# glibc's malloc extensions answer for libsmalloc's heap too (lib/malloc_ext.c):
# malloc_ext.c preloaded, and linked with libsmalloc.so and with
# libsmalloc.a, run without a preload. mallinfo2/mallinfo count 32 MiB of live 64-byte blocks;
# malloc_trim(0) after freeing them returns 1 and gives the pages back,
# a second one returns 0; malloc_info is well-formed XML with glibc's heaps
# and libsmalloc's classes; malloc_stats prints both reports.
#   malloc_ext.sh LIBSMALLOC.so PRELOAD_PROG LINKED_PROG STATIC_PROG
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
usage="usage: malloc_ext.sh LIBSMALLOC.so PRELOAD_PROG LINKED_PROG STATIC_PROG"
prog=${2:?$usage}
linked=${3:?$usage}
static=${4:?$usage}

value() { # NAME FILE: the value on the line "NAME value"
  awk -v k="$1" '$1 == k { print $2 }' "$2"
}

check_trim() { # FORM OUT
  local form=$1 out=$2 live
  live=$(value live_bytes "$out")
  local u2 u rl rt t1 t2
  u2=$(value mallinfo2_uordblks "$out") u=$(value mallinfo_uordblks "$out")
  rl=$(value rss_live "$out") rt=$(value rss_trimmed "$out")
  t1=$(value trim_first "$out") t2=$(value trim_second "$out")
  [ -n "$live" ] && [ -n "$t2" ] || { cat "$out" >&2; fail "$form: incomplete output"; }
  [ "$u2" -ge "$live" ] || { cat "$out" >&2; fail "$form: mallinfo2().uordblks = $u2 with $live bytes of 64-byte blocks live"; }
  [ "$u" -ge "$live" ] || { cat "$out" >&2; fail "$form: mallinfo().uordblks = $u with $live bytes live"; }
  pass "$form: mallinfo2().uordblks $u2, mallinfo().uordblks $u with $live bytes of 64-byte blocks live"
  [ "$t1" = 1 ] || { cat "$out" >&2; fail "$form: malloc_trim(0) after freeing them returned $t1"; }
  [ $((rl - rt)) -ge $((live * 3 / 4)) ] ||
    { cat "$out" >&2; fail "$form: malloc_trim(0) took the resident set from $rl to $rt bytes only"; }
  pass "$form: malloc_trim(0) returned 1, resident set $rl -> $rt bytes"
  [ "$t2" = 0 ] || { cat "$out" >&2; fail "$form: a second malloc_trim(0), with nothing to release, returned $t2"; }
  pass "$form: a second malloc_trim(0) returned 0"
}

# The XML in FILE: well-formed, glibc's heap 0 and libsmalloc's heap with
# the classes malloc_ext.c holds, closing totals summed over the tcaches.
check_xml() { # FORM FILE
  env -u LD_PRELOAD python3 - "$2" "$1" <<'EOF' || fail "$1: malloc_info output rejected (above)"
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
def die(msg):
    sys.exit("malloc_info: " + msg)
if root.tag != "malloc" or root.get("version") != "1":
    die("root is <%s version=%s>" % (root.tag, root.get("version")))
heaps = root.findall("heap")
ours = [h for h in heaps if h.get("allocator") == "libsmalloc"]
glibc = [h for h in heaps if h.get("allocator") is None]
if len(ours) != 1 or not glibc or glibc[0].get("nr") != "0":
    die("want glibc's heap 0 and one libsmalloc heap, got %s" % [h.attrib for h in heaps])
if ours[0].get("nr") != str(len(glibc)):
    die("libsmalloc's heap is nr=%s after %d glibc heaps" % (ours[0].get("nr"), len(glibc)))
sizes = {(int(s.get("from")), int(s.get("to"))): s for s in ours[0].find("sizes").findall("size")}
# malloc(8), (64), (200), (512), eight of each: 8 bytes take the smallest
# class the malloc family has (8 or 16 bytes), the others a class of their own.
for frm, to in ((1, 16), (57, 64), (201, 208), (505, 512)):
    held = sum(int(s.get("in_use_count")) for (f, t), s in sizes.items() if f >= frm and t <= to)
    if held < 8:
        die("classes %d..%d hold %d blocks, want 8 or more: %s" % (frm, to, held, sorted(sizes)))
def total(parent, tag, typ):
    return int(parent.find("%s[@type='%s']" % (tag, typ)).get("size"))
for tag, typ in (("system", "current"), ("system", "max"), ("total", "fast"), ("total", "rest")):
    want = sum(total(h, tag, typ) for h in heaps)
    if total(root, tag, typ) != want:
        die("closing <%s type=%s> is %d, the heaps add up to %d" % (tag, typ, total(root, tag, typ), want))
mmap = root.find("total[@type='mmap']")
if int(mmap.get("count")) < 8:
    die("glibc's mmapped blocks (eight of 1 MiB) missing: %s" % mmap.attrib)
print("ok: " + sys.argv[2] + ": malloc_info: %d glibc heap(s), libsmalloc's heap with %d classes, totals add up"
      % (len(glibc), len(sizes)))
EOF
}

# The class checks assume the default options: no SMALLOC_* from outside
# (SMALLOC_DEBUG=1, for one, puts each block in a larger class).
clean=(env $(env | sed -n 's/^\(SMALLOC_[A-Z_]*\)=.*/-u \1/p'))
for form in preloaded linked static; do
  case $form in
    preloaded) run=("${clean[@]}" LD_PRELOAD="$lib" "$prog") ;;
    linked) run=("${clean[@]}" -u LD_PRELOAD "$linked") ;;
    static) run=("${clean[@]}" -u LD_PRELOAD "$static") ;;
  esac
  "${run[@]}" trim >"$tmp/$form.trim" 2>"$tmp/$form.trim.err" ||
    { cat "$tmp/$form.trim.err" >&2; fail "$form: trim exited with status $?"; }
  check_trim $form "$tmp/$form.trim"
  "${run[@]}" info >"$tmp/$form.xml" 2>"$tmp/$form.info.err" ||
    { cat "$tmp/$form.info.err" >&2; fail "$form: info: malloc_info(1) must return EINVAL, malloc_info(0) 0"; }
  pass "$form: malloc_info(1, ...) returned EINVAL, malloc_info(0, ...) 0"
  check_xml $form "$tmp/$form.xml"
  checks=$((checks + 1))
done

"${clean[@]}" LD_PRELOAD="$lib" "$prog" stats >"$tmp/stats.out" 2>"$tmp/stats.err" || fail "stats exited with status $?"
header=$(grep -n '^libsmalloc .* statistics$' "$tmp/stats.err" | head -n 1 | cut -d: -f1)
arena=$(grep -n '^Arena 0:$' "$tmp/stats.err" | head -n 1 | cut -d: -f1)
[ -n "$header" ] && [ -n "$arena" ] && [ "$header" -lt "$arena" ] ||
  { cat "$tmp/stats.err" >&2; fail "malloc_stats: want libsmalloc's report, then glibc's Arena 0: on stderr"; }
grep -q '^Total (incl. mmap):$' "$tmp/stats.err" || fail "malloc_stats: glibc's totals missing"
pass "malloc_stats: libsmalloc's report (line $header), then glibc's (Arena 0: at line $arena) on stderr"
echo "malloc_ext.sh: all $checks checks passed"
