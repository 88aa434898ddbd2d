"""Summarise a py-spy ``--format raw`` profile (collapsed stacks): where the time goes.

``python -m bench.stacks PROFILE.txt`` prints the functions with the most samples on top
of the stack (self) and anywhere in it (inclusive), as shares of all samples.
"""

from __future__ import annotations

import sys
from collections import Counter


def summarise(path: str, top: int = 25) -> str:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip().rpartition(" ")
            if not stack:
                continue
            n = int(count)
            total += n
            frames = [
                fr.split(" (")[0] + " " + fr.rsplit("/", 1)[-1].split(":")[0].rstrip(")")
                for fr in stack.split(";")
            ]
            own[frames[-1]] += n
            for fr in set(frames):
                inclusive[fr] += n
    lines = [f"{total} samples", "", "self:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines += ["", "inclusive:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarise(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 25))
