"""Strings: formatting, splitting, joining, concatenation, bytes and a
word count, as in text-processing scripts. Usage: strings.py [SCALE]"""
import sys

WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu "
         "nu xi omicron pi rho sigma tau upsilon phi chi psi omega").split()


def run(scale):
    n = int(150_000 * scale)
    total = 0
    lines = []
    for i in range(n):
        w = WORDS[i % len(WORDS)]
        lines.append(f"{i:06d} {w} {w.upper()} {i * 3.5:.2f} {w[::-1]}")
    text = "\n".join(lines)
    counts = {}
    for line in text.splitlines():
        for tok in line.split():
            counts[tok] = counts.get(tok, 0) + 1
    total += len(counts)
    s = ""
    for i in range(n // 4):
        s += WORDS[i % len(WORDS)][:3]
        if len(s) > 4096:
            total += len(s)
            s = ""
    enc = [line.encode() for line in lines]
    total += sum(len(b.replace(b"a", b"A")) for b in enc)
    parts = [x.strip().title() for x in text.split(" ")]
    total += len("-".join(parts))
    return total


if __name__ == "__main__":
    print(run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0))
