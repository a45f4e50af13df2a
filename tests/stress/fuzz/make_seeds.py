#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_alloc.c into tests/stress/fuzz/corpus/: one file
per theme, each a sequence of operations in the target's encoding
(opcode byte, slot byte, arguments). Re-run after changing the encoding."""
import os
import struct

OPS = dict(malloc=0, calloc=1, realloc=2, reallocarray=3, posix_memalign=4,
           aligned_alloc=5, memalign=6, free=7, usable=8, check=9, burst=10,
           thread=11, free_all=12)
LIBC = 0x80
NEDGE = 37   # len(edge_sizes) in fuzz_alloc.c
NALIGN = 23  # len(edge_aligns)


def small(n):   # decode_size: selector < 128, then u16 % 513
    return bytes([0]) + struct.pack('<H', n)


def medium(n):  # selector 128..191, then u16 % 8193
    return bytes([128]) + struct.pack('<H', n)


def edge(i):    # selector 192 + i: edge_sizes[i]
    return bytes([192 + i])


def op(name, slot=0, args=b'', libc=False):
    return bytes([OPS[name] | (LIBC if libc else 0), slot]) + args


def seeds():
    out = {}
    out['classes'] = b''.join(op('malloc', i % 64, small(8 * i)) for i in range(65)) + \
        b''.join(op('usable', i) for i in range(64)) + op('free_all')
    out['libc_classes'] = b''.join(op('malloc', i % 64, small(8 * i + 1), libc=True)
                                   for i in range(64)) + op('check')
    out['bursts'] = b''.join(op('burst', 0, struct.pack('<HHB', count, size, order))
                             for count, size, order in
                             [(2047, 16, 0), (600, 8, 1), (1000, 512, 2), (513, 24, 3),
                              (2047, 100, 9), (300, 1, 3)])
    grow = b''
    for n in range(0, 700, 9):
        grow += op('realloc', 1, small(n) if n <= 512 else medium(n))
    grow += op('realloc', 1, medium(6000)) + op('realloc', 1, small(3)) + op('realloc', 1, small(0))
    out['realloc_chain'] = grow
    out['reallocarray'] = op('malloc', 2, small(40)) + \
        op('reallocarray', 2, small(100) + bytes([3])) + \
        op('reallocarray', 2, edge(33) + bytes([2])) + \
        op('reallocarray', 2, small(0) + bytes([4]))
    al = b''
    for i in range(NALIGN):
        for kind in ('posix_memalign', 'aligned_alloc', 'memalign'):
            al += op(kind, i, bytes([i]) + small(i * 23))
    out['aligned'] = al + op('check') + op('free_all')
    out['calloc'] = b''.join(op('calloc', i, bytes([1]) + small(i) + small(7)) for i in range(40)) + \
        op('calloc', 50, bytes([0, 8]) + edge(34)) + op('calloc', 51, bytes([1]) + edge(33) + edge(33))
    out['edges'] = b''.join(op('malloc', i, edge(i)) for i in range(NEDGE)) + \
        b''.join(op('realloc', i, edge((i * 5) % NEDGE)) for i in range(NEDGE)) + op('free_all')
    th = op('malloc', 3, small(48)) + op('burst', 0, struct.pack('<HHB', 900, 48, 0))
    th += op('thread', 0, bytes([6])) + op('malloc', 4, small(48)) + op('free', 3) + \
        op('burst', 0, struct.pack('<HHB', 1500, 64, 1)) + op('malloc', 5, small(200)) + \
        op('thread', 0, bytes([2])) + op('free', 4) + op('malloc', 6, small(16))
    th += op('free', 5) + op('free', 6)
    out['threads'] = th
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    corpus = os.path.join(here, 'corpus')
    os.makedirs(corpus, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(corpus, 'seed-' + name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
