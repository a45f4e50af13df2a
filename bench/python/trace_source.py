"""The program behind the shipped trace (bench/replay/python.trace.gz): a
short run of each real-program script, recorded under PYTHONMALLOC=malloc.
Usage: trace_source.py [SCALE]   (the trace was recorded at scale 0.08)"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dicts_lists  # noqa: E402
import json_roundtrip  # noqa: E402
import object_churn  # noqa: E402
import strings  # noqa: E402


def run(scale):
    return (dicts_lists.run(scale) + json_roundtrip.run(scale)
            + object_churn.run(scale) + strings.run(scale))


if __name__ == "__main__":
    print(run(float(sys.argv[1]) if len(sys.argv) > 1 else 0.08))
