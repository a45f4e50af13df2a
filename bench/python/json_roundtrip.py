"""A JSON round trip: nested records encoded to text, decoded, compared and
re-encoded. Usage: json_roundtrip.py [SCALE]"""
import json
import sys


def make_record(i):
    return {
        "id": i,
        "name": "item-%05d" % i,
        "price": round(i * 1.37 % 500, 2),
        "tags": ["a%d" % (i % 5), "b%d" % (i % 11), "c"],
        "dims": {"w": i % 30, "h": i % 17, "d": [i % 3, i % 4, i % 5]},
        "active": i % 2 == 0,
        "note": None if i % 4 else "x" * (i % 40),
    }


def run(scale):
    n = int(12_000 * scale)
    total = 0
    for rnd in range(4):
        data = [make_record(i + rnd) for i in range(n)]
        text = json.dumps(data)
        back = json.loads(text)
        assert back == data
        again = json.dumps(back, sort_keys=True, indent=1)
        total += len(text) + len(again)
        del data, back, text, again
    return total


if __name__ == "__main__":
    print(run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0))
