#!/usr/bin/env python3
"""Instructions per routing decision, counted by callgrind (docs/performance.md, rounds 8-12).

Runs a criterion bench binary under callgrind twice, with `--profile-time 1` and `--profile-time 3`,
and divides the difference in the function's inclusive instruction count by the difference in its
call count, so that set-up and criterion's own work drop out. Then prints the function's inclusive
count and the most expensive functions by exclusive count, per decision.

    cargo bench --bench peers --no-run     # prints the binary's path
    python3 scripts/instructions-per-decision.py target/release/deps/peers-<hash> 'n16_tier3/route_into/cost_first$'
    python3 scripts/instructions-per-decision.py target/release/deps/peers-<hash> 'n16_tier3/model-router$' select_by_complexity

Needs valgrind (callgrind and callgrind_annotate). The default function is `Router::route_into`.
With `--profiles A B` it reads two existing profiles (the 1 s one first) instead of running.
"""
import os
import re
import subprocess
import sys
import tempfile


def annotate(profile, inclusive):
    """Instructions per function name, inclusive or exclusive."""
    out = subprocess.run(
        ["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}", "--threshold=100", profile],
        capture_output=True, text=True, check=True,
    ).stdout
    counts = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*)", line)
        if m:
            name = m.group(2).strip()
            counts[name] = counts.get(name, 0) + int(m.group(1).replace(",", ""))
    return counts


def calls(profile, pattern):
    """Calls to functions whose name contains `pattern` (names are compressed as `(id) name`)."""
    names, total, callee = {}, 0, None
    with open(profile) as f:
        for line in f:
            m = re.match(r"c?fn=\((\d+)\)(?: (.*))?", line)
            if m:
                if m.group(2):
                    names[m.group(1)] = m.group(2)
                if line.startswith("cfn="):
                    callee = names.get(m.group(1), "")
                continue
            if line.startswith("calls=") and callee and pattern in callee:
                total += int(line.split("=")[1].split()[0])
    return total


def profile(binary, case, seconds, path):
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={path}", binary, "--bench",
         "--profile-time", str(seconds), case],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
    )


def main(argv):
    if len(argv) >= 3 and argv[0] == "--profiles":
        short, long_, rest = argv[1], argv[2], argv[3:]
    elif len(argv) >= 2:
        binary, case, rest = argv[0], argv[1], argv[2:]
        tmp = tempfile.mkdtemp(prefix="callgrind-")
        short, long_ = os.path.join(tmp, "1s.out"), os.path.join(tmp, "3s.out")
        profile(binary, case, 1, short)
        profile(binary, case, 3, long_)
    else:
        sys.exit(__doc__)
    function = rest[0] if rest else "Router::route_into"
    decisions = calls(long_, function) - calls(short, function)
    if decisions <= 0:
        sys.exit(f"no more calls to {function} in the longer profile: is the case or the function wrong?")
    a, b = annotate(short, True), annotate(long_, True)
    for name in b:
        if function in name:
            print(f"{(b[name] - a.get(name, 0)) / decisions:10.1f}  inclusive  {name[:140]}")
    a, b = annotate(short, False), annotate(long_, False)
    top = sorted(((b[n] - a.get(n, 0)) / decisions, n) for n in b)[::-1][:20]
    print(f"per decision ({decisions} decisions), exclusive:")
    for v, name in top:
        if v >= 1:
            print(f"{v:10.1f}  {name[:150]}")


if __name__ == "__main__":
    main(sys.argv[1:])
