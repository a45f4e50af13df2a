"""A large live set sorted and traversed: 150k small records (instances
holding ints, short strings, floats and tuples) kept alive while they are
sorted with key functions several times and walked, as in reporting
scripts that load everything and then order it several ways. Allocation is mostly up
front; the time goes into touching objects, so it measures where the
allocator placed them. Usage: sort_live.py [SCALE]"""
import sys


class Rec:
    __slots__ = ("key", "name", "weight", "pair")

    def __init__(self, key, name, weight, pair):
        self.key = key
        self.name = name
        self.weight = weight
        self.pair = pair


def run(scale):
    n = int(150_000 * scale)
    recs = [Rec((i * 7919) % n, "r%06d" % ((i * 104729) % n), (i * 31) % 997 / 7.0,
                (i % 13, -i)) for i in range(n)]
    total = 0
    for rnd in range(2):
        recs.sort(key=lambda r: r.key)
        total += recs[rnd].key
        recs.sort(key=lambda r: r.name)
        total += len(recs[n // 2].name)
        recs.sort(key=lambda r: r.weight)
        total += sum(1 for r in recs if r.pair[0] == rnd)
    recs.sort(key=lambda r: (r.pair[0], r.key))
    total += recs[-1].key
    return total


if __name__ == "__main__":
    print(run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0))
