"""Allocation-heavy, deterministic work for python3 under libsmalloc.

Run with PYTHONMALLOC=malloc so that every Python object is a malloc block
(python.sh). Prints digests of what it built; the output must be the same
byte for byte with and without libsmalloc preloaded. Small objects of every
size (ints, floats, short strings, tuples, dict and list nodes, instances)
are created and dropped by the hundred thousand, mixed with large ones
(long strings, big lists, bytes) that go to glibc.
"""
import collections
import gc
import hashlib
import json
import re
import sys


def lcg(seed):
    x = seed
    while True:
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        yield x >> 33


class Node:
    __slots__ = ("key", "value", "children")

    def __init__(self, key, value):
        self.key = key
        self.value = value
        self.children = []


def digest(obj):
    return hashlib.sha256(repr(obj).encode()).hexdigest()[:16]


def words(n, seed):
    r = lcg(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    out = []
    for _ in range(n):
        k = next(r)
        length = 1 + k % 24
        out.append("".join(alphabet[(k >> (i * 3)) % 26] for i in range(length)))
    return out


def stage_dicts():
    d = {}
    for i, w in enumerate(words(120000, 1)):
        d.setdefault(w[:3], []).append((i, w, float(i) / 7))
    for k in list(d)[::3]:
        del d[k]
    total = sum(len(v) for v in d.values())
    return "dicts", len(d), total, digest(sorted(d)[:50])


def stage_strings():
    parts = words(60000, 2)
    text = " ".join(parts)
    upper = text.upper()
    pieces = upper.split(" ")
    joined = "-".join(reversed(pieces))
    found = re.findall(r"\b[A-E][A-Z]{3,5}\b", joined)
    counts = collections.Counter(w[0] for w in pieces)
    return "strings", len(text), len(found), digest(sorted(counts.items()))


def stage_json():
    r = lcg(3)
    doc = [{"id": i, "name": "item%d" % i, "tags": ["t%d" % (next(r) % 50) for _ in range(5)],
            "score": next(r) % 1000 / 10.0} for i in range(30000)]
    s = json.dumps(doc, sort_keys=True)
    back = json.loads(s)
    assert back == doc
    return "json", len(s), digest(s)


def stage_tree():
    r = lcg(4)
    root = Node(0, "root")
    nodes = [root]
    for i in range(1, 80000):
        parent = nodes[next(r) % len(nodes)]
        child = Node(i, str(i) * (1 + i % 5))
        parent.children.append(child)
        nodes.append(child)
    depth_sum = 0
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        depth_sum += depth
        stack.extend((c, depth + 1) for c in node.children)
    del nodes, root, stack
    return "tree", depth_sum


def stage_churn():
    r = lcg(5)
    live = [None] * 4096
    checksum = 0
    for i in range(300000):
        slot = next(r) % 4096
        kind = i % 4
        if kind == 0:
            live[slot] = (i, i + 1, str(i))
        elif kind == 1:
            live[slot] = [i] * (1 + i % 40)
        elif kind == 2:
            live[slot] = {"k": i, "v": str(i)}
        else:
            live[slot] = bytes(1 + i % 3000)
        checksum = (checksum * 31 + len(repr(live[slot - 1]))) % (1 << 61)
    return "churn", checksum


def stage_cycles():
    made = 0
    for _ in range(20):
        ring = [Node(i, None) for i in range(5000)]
        for a, b in zip(ring, ring[1:] + ring[:1]):
            a.value = b
        made += len(ring)
        del ring
    return "cycles", made, gc.collect()


def main():
    for stage in (stage_dicts, stage_strings, stage_json, stage_tree, stage_churn, stage_cycles):
        print(*stage())
    sys.stdout.flush()


if __name__ == "__main__":
    main()
