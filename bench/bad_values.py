"""Benchmark (robustness): a large seeded sample of wrong `key=value` values, none may end in a traceback.

tests/fuzzing.py's fuzzer with more values than the test suite's sample: random (key, wrong value) pairs for
the keys of `dlbook train --cfg job` of six offline experiments, each run as `dlbook train experiment=<name>
debug=fast <key>=<value>` through dlbook's command-line entry, all in one process. Reported: how many values
were tried, how many were usable (exit 0) or refused with dlbook's one-paragraph error (exit 2), how many
ended in a traceback or another exit status (must be 0), how many left a run marked completed although the
command failed (must be 0), and every such finding.

Usage: python bench/bad_values.py [--per-experiment 40] [--seed 2026]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The fuzzer lives with the tests, which run a small sample of it; the benchmark reuses it as it is.
sys.path.insert(0, str(HERE.parent / "tests"))

from fuzzing import fuzz  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-experiment", type=int, default=40)
    parser.add_argument("--seed", type=int, default=2026)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        result = fuzz(options.seed, options.per_experiment, Path(temporary), log=sys.stderr)
    result = {"benchmark": "bad values (robustness)", **result}
    out = HERE / "results" / "bad_values.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{result['values_tried']} wrong values tried, {result['tracebacks']} tracebacks, "
        f"{result['completed_although_failed']} runs marked completed although failed ({result['seconds']} s)"
    )


if __name__ == "__main__":
    main()
