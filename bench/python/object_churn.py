"""Object churn: class instances, binary trees built and torn down, a
queue of short-lived messages, closures and generators.
Usage: object_churn.py [SCALE]"""
import collections
import sys


class Node:
    __slots__ = ("left", "right", "value")

    def __init__(self, left, right, value):
        self.left = left
        self.right = right
        self.value = value


class Message:
    def __init__(self, seq, body):
        self.seq = seq
        self.body = body
        self.meta = {"len": len(body)}


def tree(depth, v):
    if depth == 0:
        return Node(None, None, v)
    return Node(tree(depth - 1, 2 * v), tree(depth - 1, 2 * v + 1), v)


def check(node):
    if node.left is None:
        return 1
    return 1 + check(node.left) + check(node.right)


def run(scale):
    total = 0
    trees = max(1, int(100 * scale))
    long_lived = tree(14, 1)
    for i in range(trees):
        total += check(tree(12, i))
    q = collections.deque()
    for i in range(int(800_000 * scale)):
        q.append(Message(i, "m%d" % i))
        if len(q) > 1000:
            m = q.popleft()
            total += m.meta["len"]
    gen = (x * x for x in range(int(300_000 * scale)))
    total += sum(gen)
    adders = [(lambda k: (lambda x: x + k))(k) for k in range(int(100_000 * scale))]
    total += sum(f(1) for f in adders)
    return total + check(long_lived)


if __name__ == "__main__":
    print(run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0))
