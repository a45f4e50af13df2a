"""Containers: dicts, lists, tuples and short strings built, grouped and
dropped, as in data-munging scripts. Usage: dicts_lists.py [SCALE]"""
import sys


def run(scale):
    n = int(100_000 * scale)
    total = 0
    for rnd in range(3):
        rows = [{"id": i, "name": "user%d" % i, "tags": ("t%d" % (i % 7), "x"),
                 "score": (i * 7919) % 1000 / 10.0}
                for i in range(n)]
        groups = {}
        for r in rows:
            groups.setdefault(r["tags"][0], []).append((r["id"], r["score"]))
        for key, items in groups.items():
            items.sort(key=lambda t: (t[1], t[0]))
            total += len(items) + len(key)
        index = {r["name"]: r for r in rows if r["id"] % 3 == rnd}
        total += len(index)
        pairs = list(zip(range(n), map(str, range(n))))
        total += sum(len(s) for _, s in pairs[::97])
        del rows, groups, index, pairs
    return total


if __name__ == "__main__":
    print(run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0))
