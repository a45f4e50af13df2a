"""A cyclic object graph under the cycle collector: a big graph of
instances with parent/child back references and dicts, full gc.collect()
passes over it while it is alive, then parts of it dropped as garbage
cycles that only the collector can free. Usage: gc_graph.py [SCALE]"""
import gc
import sys


class Vertex:
    def __init__(self, ident, parent):
        self.ident = ident
        self.parent = parent
        self.children = []
        self.attrs = {"id": ident, "depth": 0 if parent is None else parent.attrs["depth"] + 1}


def build(n, fanout):
    root = Vertex(0, None)
    frontier = [root]
    made = 1
    while made < n:
        nxt = []
        for v in frontier:
            for _ in range(fanout):
                c = Vertex(made, v)
                v.children.append(c)
                nxt.append(c)
                made += 1
        frontier = nxt
    for i, v in enumerate(frontier):  # cross links between leaves: more cycles
        v.children.append(frontier[(i * 31) % len(frontier)])
    return root


def run(scale):
    n = int(40_000 * scale)
    total = 0
    keep = build(n, 4)
    for rnd in range(3):
        graph = build(n // 2, 3)
        for _ in range(3):
            total += gc.collect()
        total += len(graph.children) + len(gc.get_objects()) % 7
        del graph  # a garbage cycle
        total += gc.collect()
    total += len(keep.children)
    return total


if __name__ == "__main__":
    gc.disable()  # passes only where the script asks for them
    print(run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0))
