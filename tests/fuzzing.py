"""A seeded fuzzer of `dlbook train key=value`: wrong values for the keys of `dlbook train --cfg job`.

Each case is one command a user could type, `dlbook train experiment=<name> debug=fast <key>=<value>`, run
through dlbook's real command-line entry (``dlbook.cli.main``) in this process, so that TensorFlow is
imported once for all cases. A case is fine when it ends with exit status 0 (the value was usable) or with
dlbook's one-paragraph error and status 2, without a traceback, and with no run marked completed unless it
exited 0. Everything else (a traceback, another status, a completed run that exited non-zero) is a finding.

Used by tests/test_bad_input_fuzz.py (a small fixed sample) and bench/bad_values.py (a larger one).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

# Experiments that run offline on bundled or generated data, of different kinds: k-fold regression, a
# three-output model, two-input question answering, a siamese LSTM, a residual and a separable convnet.
EXPERIMENTS = (
    "boston_housing",
    "multi_output",
    "qa_two_inputs",
    "siamese_lstm",
    "residual_block",
    "separable_convnet",
)
# Wrong values as a user types them: a word, numbers out of range, null, empty and nested containers,
# a boolean, an empty string, a class path that does not exist.
WRONG_VALUES = (
    "abc",
    "-1",
    "0",
    "1e30",
    "null",
    "[]",
    "{}",
    "''",
    "[1,2]",
    "true",
    "-0.5",
    "{a: 1}",
    "nowhere.Nothing",
    "keras.layers.Nothing",
)
# Keys a fuzzed value cannot make wrong in a way worth a run: where the run writes (any folder name is a
# folder), the book's text, and the reference a run is judged by (reporting only).
SKIPPED_PREFIXES = ("paths.", "book.", "reference.", "hydra.", "name")
BASE = ("debug=fast",)


@dataclass
class Case:
    experiment: str
    key: str
    value: str

    @property
    def override(self) -> str:
        return f"{self.key}={self.value}"

    def arguments(self) -> list[str]:
        return ["train", f"experiment={self.experiment}", *BASE, self.override]


@dataclass
class Outcome:
    case: Case
    code: int
    output: str
    seconds: float
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "experiment": self.case.experiment,
            "override": self.case.override,
            "exit": self.code,
            "problems": self.problems,
            "last_line": (self.output.strip().splitlines() or [""])[-1][:500],
        }


def config_keys(experiment: str) -> list[str]:
    """Every key of `dlbook train experiment=<experiment> --cfg job` (nodes and leaves), dotted."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from dlbook.config.resources import conf_dir

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3", job_name="train"):
        tree = OmegaConf.to_container(compose("train", [f"experiment={experiment}", *BASE]), resolve=False)
    keys: list[str] = []

    def walk(node, prefix: str) -> None:
        for name, value in node.items():
            dotted = f"{prefix}{name}"
            if not dotted.startswith(SKIPPED_PREFIXES):
                keys.append(dotted)
            if isinstance(value, dict):
                walk(value, f"{dotted}.")

    walk(tree, "")
    return keys


def sample(seed: int, per_experiment: int, experiments=EXPERIMENTS) -> list[Case]:
    """``per_experiment`` random (key, wrong value) pairs of each experiment, the same for the same seed."""
    generator = random.Random(seed)
    cases = []
    for experiment in experiments:
        pairs = [(key, value) for key in config_keys(experiment) for value in WRONG_VALUES]
        for key, value in generator.sample(pairs, min(per_experiment, len(pairs))):
            cases.append(Case(experiment, key, value))
    return cases


def run_case(case: Case, workdir: Path) -> Outcome:
    """Run ``case`` as `dlbook` would, in ``workdir``; judge how it ended."""
    from hydra.core.global_hydra import GlobalHydra

    from dlbook.cli import main

    workdir.mkdir(parents=True, exist_ok=True)
    output = io.StringIO()
    previous = Path.cwd()
    started = time.perf_counter()
    code: int | None
    GlobalHydra.instance().clear()
    os.chdir(workdir)
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            try:
                code = main(case.arguments())
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
            except Exception as error:  # noqa: BLE001 - escaping the command at all is what we look for
                import traceback

                traceback.print_exception(error, file=output)
                code = -1
    finally:
        os.chdir(previous)
        GlobalHydra.instance().clear()
    outcome = Outcome(case, code, output.getvalue(), time.perf_counter() - started)
    outcome.problems = judge(outcome, workdir)
    return outcome


def judge(outcome: Outcome, workdir: Path) -> list[str]:
    """What is wrong with how a case ended (nothing: an empty list)."""
    problems = []
    text = outcome.output
    if "Traceback (most recent call last)" in text or "Error executing job" in text:
        problems.append("traceback")
    if outcome.code not in (0, 2):
        problems.append(f"exit status {outcome.code}")
    if outcome.code == 2:
        lines = [line for line in text.strip().splitlines() if line.startswith("dlbook: error: ")]
        if not lines:
            problems.append("exit 2 without dlbook's one-paragraph error")
        elif outcome.case.key not in lines[-1]:
            problems.append("the error does not name the key")
    if outcome.code != 0:
        for status_file in workdir.rglob("status.json"):
            try:
                status = json.loads(status_file.read_text()).get("status")
            except (OSError, ValueError):
                status = None
            if status == "completed" or status_file.with_name("metrics.json").exists():
                problems.append(f"run marked completed although the command exited {outcome.code}")
    return problems


def fuzz(seed: int, per_experiment: int, workdir: Path, experiments=EXPERIMENTS, log=None) -> dict:
    """Run a seeded sample in ``workdir``; the figures and every finding, as a JSON-ready dict."""
    os.environ.setdefault("KERAS_HOME", str(workdir / "keras_home"))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    started = time.perf_counter()
    cases = sample(seed, per_experiment, experiments)
    outcomes = []
    for number, case in enumerate(cases):
        outcome = run_case(case, workdir / f"case_{number}")
        outcomes.append(outcome)
        if log is not None:
            verdict = ", ".join(outcome.problems) or f"fine (exit {outcome.code})"
            print(f"{number + 1}/{len(cases)} {case.experiment} {case.override}: {verdict}", file=log, flush=True)
    findings = [outcome.to_json() for outcome in outcomes if outcome.problems]
    return {
        "seed": seed,
        "experiments": list(experiments),
        "values_tried": len(outcomes),
        "accepted_exit_0": sum(outcome.code == 0 for outcome in outcomes),
        "refused_exit_2": sum(outcome.code == 2 for outcome in outcomes),
        "tracebacks": sum("traceback" in outcome.problems for outcome in outcomes),
        "completed_although_failed": sum(
            any(problem.startswith("run marked completed") for problem in outcome.problems) for outcome in outcomes
        ),
        "findings": findings,
        "seconds": round(time.perf_counter() - started, 1),
    }


if __name__ == "__main__":
    import argparse
    import sys
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-experiment", type=int, default=4)
    parser.add_argument("--experiments", default=",".join(EXPERIMENTS))
    parser.add_argument("--out", type=Path, required=True, help="where to write the figures (JSON)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        result = fuzz(
            options.seed, options.per_experiment, Path(temporary), options.experiments.split(","), log=sys.stderr
        )
    options.out.write_text(json.dumps(result, indent=2) + "\n")
