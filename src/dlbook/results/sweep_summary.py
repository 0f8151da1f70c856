"""The results of a sweep at a glance: summary.csv, summary.md and val_loss.png in the sweep directory.

A sweep directory (``outputs/multirun/<name>/<timestamp>/``) holds ``multirun.yaml`` and one run
directory per job (``0/``, ``1/``, ...). ``summarize(sweep_dir)`` reads each job's
``.hydra/overrides.yaml``, ``.hydra/config.yaml``, ``status.json``, ``metrics.json`` and ``history.csv``
and writes:

- ``summary.csv`` and ``summary.md``: one row per job folder, with the job, the overrides whose values
  differ between jobs, the objective, the median epoch time (``epoch s``, from history.csv) and the
  Keras backend with its version (from provenance.json) where the jobs recorded them, the status and
  the error type of a failure; best first. The best completed run is marked. A ``tags`` column shows
  the jobs' tags (``tags=[...]``) where they have any, and summary.csv's ``command`` column the plain
  command that repeats each job (provenance.json). summary.md starts with a line naming the sweep, the
  objective, the direction and how many jobs ended in each status, and lists those commands below the table.
- ``val_loss.png``: the validation loss per epoch of every job on one figure, one line per job labelled
  by its varying overrides (the book's figures 4.4 to 4.9 compare models this way). Each job's curve is
  its first fit that has a ``val_loss`` (k-fold: the first fold). No figure when no job has one.

Status of a job: what its status.json says (completed, failed, pruned, running); ``running`` whose
process is gone (or any ``running`` once the sweep has ended) is reported as ``interrupted``; a job
folder without status.json is ``not started``. Jobs that never got a folder are not listed.

Objective: the job config's ``objective``, or else its ``reference.metric``, looked up in metrics.json
(``dlbook.config.reference.lookup``). Direction, in this order:

1. the sweeper's ``direction`` in multirun.yaml (``hydra.sweeper.direction``; the first one when the
   sweeper has several objectives), when it has one;
2. otherwise *minimize* when the metric's name looks like a loss or an error (it contains loss, mae,
   mse, error, crossentropy, hinge, mape or msle, the rule dlbook uses for the best validation epoch),
   and *maximize* for every other metric (accuracy, auc, ...).

Rows with a value come first, best first (ties in job order), then the rows without one, in job order.
When jobs have different objectives (a sweep over experiments), the most common one is the sweep's;
jobs with another metric are listed after its jobs, with their metric in a ``metric`` column.

Everything here reads files only: no Hydra composition and no TensorFlow, so ``dlbook summarize``
is fast and also works on a sweep that crashed halfway. ``SweepSummaryCallback`` (a Hydra callback,
registered in conf/hydra/default.yaml) calls ``summarize`` at the end of every multirun.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dlbook.config.reference import lookup
from dlbook.errors import DlbookError
from dlbook.run.directory import display_path
from dlbook.tasks.summaries import lower_is_better as metric_lower_is_better

log = logging.getLogger("dlbook")

SUMMARY_CSV = "summary.csv"
SUMMARY_MD = "summary.md"
FIGURE = "val_loss.png"
MULTIRUN_FILE = "multirun.yaml"
# The column with each job's typical epoch time: the median over its epochs (a fit's first epoch, which
# also builds and compiles the step, left out where the fit has more).
EPOCH_SECONDS = "epoch s"

# Display order of the statuses in the counts line.
STATUSES = ("completed", "failed", "pruned", "interrupted", "running", "not started", "unreadable")


class SweepDirectoryError(DlbookError):
    """The path given is not a sweep directory."""


@dataclass
class Job:
    """One job folder of a sweep, as read from its files."""

    name: str
    path: Path
    overrides: dict[str, str]
    status: str
    error_type: str | None = None
    objective: str | None = None
    value: float | None = None
    curve: tuple[list[int], list[float]] | None = None
    backend: str | None = None
    epoch_seconds: float | None = None
    tags: list[str] = field(default_factory=list)
    command: str | None = None
    best: bool = False
    label: str = ""


@dataclass
class SweepSummary:
    """What ``summarize`` found and wrote."""

    sweep_dir: Path
    objective: str | None
    direction: str
    direction_source: str
    varying: list[str]
    jobs: list[Job] = field(default_factory=list)
    figure: Path | None = None

    @property
    def counts(self) -> dict[str, int]:
        """Number of jobs per status, in the order of STATUSES (only the statuses present)."""
        counted = Counter(job.status for job in self.jobs)
        ordered = {status: counted[status] for status in STATUSES if counted[status]}
        ordered.update({status: count for status, count in counted.items() if status not in ordered})
        return ordered

    @property
    def best(self) -> Job | None:
        return next((job for job in self.jobs if job.best), None)

    @property
    def mixed_objectives(self) -> bool:
        """True when jobs have different objectives (a sweep over experiments with different metrics)."""
        return len({job.objective for job in self.jobs if job.objective}) > 1

    def headline(self) -> str:
        """The line above the table: the sweep, the objective and direction, and the counts."""
        counts = ", ".join(f"{count} {status}" for status, count in self.counts.items())
        objective = self.objective or "none (no objective nor reference metric)"
        if self.mixed_objectives:
            objective = f"{objective} and others (each job's own metric is in the metric column)"
        return (
            f"Sweep {sweep_name(self.sweep_dir)}: objective {objective}, {self.direction} "
            f"({self.direction_source}); {len(self.jobs)} jobs: {counts or 'none'}."
        )

    @property
    def shows_backend(self) -> bool:
        return any(job.backend for job in self.jobs)

    @property
    def shows_epoch_seconds(self) -> bool:
        return any(job.epoch_seconds is not None for job in self.jobs)

    @property
    def shows_tags(self) -> bool:
        return any(job.tags for job in self.jobs)

    @property
    def shows_commands(self) -> bool:
        return any(job.command for job in self.jobs)

    def columns(self, commands: bool = False) -> list[str]:
        """The table's header; ``commands`` adds the rerun command column (summary.csv)."""
        objective = ["objective", "metric"] if self.mixed_objectives else [self.objective or "objective"]
        backend = ["backend"] if self.shows_backend else []
        tags = ["tags"] if self.shows_tags else []
        seconds = [EPOCH_SECONDS] if self.shows_epoch_seconds else []
        command = ["command"] if commands and self.shows_commands else []
        return ["job", *backend, *self.varying, *tags, *objective, *seconds, "status", "error", "best", *command]

    def rows(self, commands: bool = False) -> list[list[str]]:
        """The table's cells (the objective with full precision; ``markdown`` rounds it)."""
        return [
            [
                job.name,
                *([job.backend or ""] if self.shows_backend else []),
                *[job.overrides.get(key, "") for key in self.varying],
                *([",".join(job.tags)] if self.shows_tags else []),
                "" if job.value is None else repr(job.value),
                *([job.objective or ""] if self.mixed_objectives else []),
                *([_seconds_cell(job.epoch_seconds)] if self.shows_epoch_seconds else []),
                job.status,
                job.error_type or "",
                "yes" if job.best else "",
                *([job.command or ""] if commands and self.shows_commands else []),
            ]
            for job in self.jobs
        ]

    def markdown(self) -> str:
        """summary.md: the headline, then the table."""
        objective_column = 1 + int(self.shows_backend) + len(self.varying) + int(self.shows_tags)

        def cell(text: str, column: int) -> str:
            if column == objective_column and text:
                text = f"{float(text):.4f}"
            return text.replace("|", "\\|")

        lines = [self.headline(), "", "| " + " | ".join(self.columns()) + " |"]
        lines.append("|" + "---|" * len(self.columns()))
        for row in self.rows():
            lines.append("| " + " | ".join(cell(text, column) for column, text in enumerate(row)) + " |")
        if self.shows_commands:
            lines += ["", "Each job again, as a single run:", ""]
            lines += [f"- {job.name}: `{job.command}`" for job in self.jobs if job.command]
        return "\n".join(lines) + "\n"


def _seconds_cell(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds:.3f}"


def sweep_name(sweep_dir: Path) -> str:
    """``<name>/<timestamp>``: how a sweep is recognised among outputs/multirun/."""
    parent = sweep_dir.resolve().parent.name
    return f"{parent}/{sweep_dir.name}" if parent else sweep_dir.name


def lower_is_better(metric: str) -> bool:
    """True for metric names that look like a loss or an error (``val.loss``, ``kfold.val_mae_mean``)."""
    return metric_lower_is_better(metric.rsplit(".", 1)[-1].lower())


# libyaml's parser where PyYAML has it (the wheels do): `dlbook runs` reads a YAML file per run.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except (OSError, yaml.YAMLError):
        return None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _is_job_dir(path: Path) -> bool:
    if not path.is_dir() or path.name.startswith("."):
        return False
    return path.name.isdigit() or (path / ".hydra").is_dir() or (path / "status.json").is_file()


def job_dirs(sweep_dir: Path) -> list[Path]:
    """The job folders of a sweep: numbered ones in number order, then any other run folder by name."""
    folders = [path for path in sweep_dir.iterdir() if _is_job_dir(path)]
    return sorted(folders, key=lambda path: (0, int(path.name), "") if path.name.isdigit() else (1, 0, path.name))


def check_sweep_dir(path: Path) -> Path:
    """``path`` when it is a sweep directory; otherwise a SweepDirectoryError saying what to give instead."""
    if not path.is_dir():
        raise SweepDirectoryError(
            f"{path} is not a sweep directory: no such directory. Give the folder of one multirun, "
            "outputs/multirun/<name>/<timestamp>, as `dlbook train -m` printed it."
        )
    if (path / MULTIRUN_FILE).is_file() or any((folder / ".hydra").is_dir() for folder in job_dirs(path)):
        return path
    sweeps = sorted(found.parent for found in path.glob(f"*/{MULTIRUN_FILE}"))
    if (path.parent / MULTIRUN_FILE).is_file():
        hint = f"it is job {path.name} of the sweep {path.parent}"
    elif (path / "status.json").is_file() or (path / ".hydra").is_dir():
        hint = "it is a single run, not a sweep"
    elif sweeps:
        hint = f"it holds {len(sweeps)} sweep{'s' if len(sweeps) > 1 else ''}, the latest is {sweeps[-1]}"
    else:
        hint = f"it has no {MULTIRUN_FILE} and no job folders (0/, 1/, ...)"
    raise SweepDirectoryError(
        f"{path} is not a sweep directory: {hint}. Give the folder of one multirun, "
        f"outputs/multirun/<name>/<timestamp>, which holds {MULTIRUN_FILE} and one folder per job."
    )


def parse_overrides(lines: Any) -> dict[str, str]:
    """``["model.units=16", "+x=1"]`` -> ``{"model.units": "16", "x": "1"}`` (Hydra's overrides.yaml)."""
    overrides: dict[str, str] = {}
    for line in lines if isinstance(lines, list) else []:
        key, separator, value = str(line).partition("=")
        if separator:
            overrides[key.lstrip("+~")] = value
    return overrides


def _process_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by another user
    except OSError:
        return False
    return True


def job_status(path: Path, sweep_finished: bool) -> tuple[str, str | None]:
    """(status, error type) of one job folder; see the module docstring for interrupted / not started."""
    status_file = path / "status.json"
    if not status_file.is_file():
        return "not started", None
    status = _read_json(status_file)
    if not isinstance(status, dict) or "status" not in status:
        return "unreadable", None
    state = str(status["status"])
    if state == "running" and (sweep_finished or not _process_alive(status.get("pid"))):
        state = "interrupted"
    error = status.get("error")
    error_type = error.get("type") if isinstance(error, dict) and state in ("failed", "pruned") else None
    return state, error_type


def job_objective(path: Path) -> str | None:
    """The job's ``objective``, or its ``reference.metric``, from .hydra/config.yaml."""
    config = _read_yaml(path / ".hydra" / "config.yaml")
    if not isinstance(config, dict):
        return None
    reference = config.get("reference")
    metric = config.get("objective") or (reference.get("metric") if isinstance(reference, dict) else None)
    return str(metric) if metric else None


def validation_curve(path: Path) -> tuple[list[int], list[float]] | None:
    """(epochs, val_loss) of the job's first fit that has a val_loss, from history.csv; None if none."""
    try:
        with open(path / "history.csv", newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file))
    except OSError:
        return None
    first = next((row for row in rows if row.get("val_loss") not in (None, "")), None)
    if first is None:
        return None
    phase = first.get("phase")
    epochs, losses = [], []
    for number, row in enumerate(rows, start=1):
        if row.get("phase") != phase or row.get("val_loss") in (None, ""):
            continue
        try:
            losses.append(float(row["val_loss"]))
            epochs.append(int(float(row.get("epoch") or number)))
        except ValueError:
            continue
    return (epochs, losses) if losses else None


def job_backend(path: Path) -> str | None:
    """ "<backend> <version>" (e.g. "jax 0.10.2") from the job's provenance.json; None where it has none."""
    provenance = _read_json(path / "provenance.json")
    backend = provenance.get("backend") if isinstance(provenance, dict) else None
    if not isinstance(backend, dict) or not backend.get("name"):
        return None
    return " ".join(str(part) for part in (backend["name"], backend.get("version")) if part)


def job_command(path: Path) -> str | None:
    """The plain command that repeats the job (provenance.json's ``command``); None for runs that lack it."""
    provenance = _read_json(path / "provenance.json")
    command = provenance.get("command") if isinstance(provenance, dict) else None
    return command if isinstance(command, str) else None  # older runs kept the process's argv list there


def job_tags(path: Path) -> list[str]:
    """The job's tags (``tags=[...]``) from its status.json."""
    status = _read_json(path / "status.json")
    tags = status.get("tags") if isinstance(status, dict) else None
    return [str(tag) for tag in tags] if isinstance(tags, list) else []


def median_epoch_seconds(path: Path) -> float | None:
    """The median epoch time in the job's history.csv (each fit's first epoch left out where it has more)."""
    try:
        with open(path / "history.csv", newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file))
    except (OSError, csv.Error):
        return None
    by_phase: dict[str, list[float]] = {}
    for row in rows:
        try:
            seconds = float(row.get("seconds") or "")
        except ValueError:
            continue
        by_phase.setdefault(row.get("phase") or "", []).append(seconds)
    times = [seconds for phase in by_phase.values() for seconds in (phase[1:] if len(phase) > 1 else phase)]
    return statistics.median(times) if times else None


def sweeper_direction(sweep_dir: Path) -> str | None:
    """``minimize`` / ``maximize`` from multirun.yaml's hydra.sweeper.direction (None when not set)."""
    multirun = _read_yaml(sweep_dir / MULTIRUN_FILE)
    sweeper = ((multirun or {}).get("hydra") or {}).get("sweeper") if isinstance(multirun, dict) else None
    direction = sweeper.get("direction") if isinstance(sweeper, dict) else None
    if isinstance(direction, list):
        direction = direction[0] if direction else None
    text = str(direction).lower() if direction is not None else ""
    for name in ("minimize", "maximize"):
        if name in text:  # also Optuna's enum spelling, StudyDirection.MINIMIZE
            return name
    return None


def read_job(path: Path, sweep_finished: bool) -> Job:
    """One job's row: overrides, status, objective value (completed or not) and validation curve."""
    status, error_type = job_status(path, sweep_finished)
    objective = job_objective(path)
    metrics = _read_json(path / "metrics.json")
    value = lookup(metrics, objective) if objective and isinstance(metrics, dict) else None
    if value is not None and math.isnan(value):
        value = None
    return Job(
        name=path.name,
        path=path,
        overrides=parse_overrides(_read_yaml(path / ".hydra" / "overrides.yaml")),
        status=status,
        error_type=error_type,
        objective=objective,
        value=value,
        curve=validation_curve(path),
        backend=job_backend(path),
        epoch_seconds=median_epoch_seconds(path),
        tags=job_tags(path),
        command=job_command(path),
    )


def varying_keys(jobs: list[Job]) -> list[str]:
    """Override keys whose value is not the same in every job (a key missing somewhere varies too)."""
    keys: list[str] = []
    for job in jobs:
        keys.extend(key for key in job.overrides if key not in keys)
    # resume=<sweep dir> marks the jobs a resumed sweep ran again; it says nothing about what they are.
    # Tags have their own column.
    return [key for key in keys if key not in ("resume", "tags") and len({job.overrides.get(key) for job in jobs}) > 1]


def plot_validation_losses(jobs: list[Job], path: Path, title: str) -> Path | None:
    """val_loss.png: one line per job with a curve, labelled as in the table; None when no job has one.

    The labels are also stored in the PNG's ``Description`` text, one a line, in the order drawn.
    """
    drawn = [job for job in jobs if job.curve]
    if not drawn:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    # The book tells its curves apart by marker (`b+` original, `bo` smaller ...); colours help with more jobs.
    markers = ["+", "o", "x", "s", "^", "v", "D", "*", "<", ">"]
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for index, job in enumerate(drawn):
        epochs, losses = job.curve
        axis.plot(epochs, losses, marker=markers[index % len(markers)], markersize=5, linewidth=1, label=job.label)
    axis.set_title(title)
    axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    axis.set_xlabel("epoch")
    axis.set_ylabel("validation loss")
    axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=80, metadata={"Description": "\n".join(job.label for job in drawn)})
    plt.close(figure)
    return path


def choose_direction(sweep_dir: Path, objective: str | None) -> tuple[str, str]:
    """(minimize or maximize, why): the sweeper's direction, else the metric name's (module docstring)."""
    direction = sweeper_direction(sweep_dir)
    if direction:
        return direction, "the sweeper's direction"
    if not objective:
        return "minimize", "no objective"
    if lower_is_better(objective):
        return "minimize", "a loss or error metric"
    return "maximize", "not a loss or error metric"


def summarize(sweep_dir: str | Path, sweep_finished: bool = False) -> SweepSummary:
    """Write summary.csv, summary.md and val_loss.png into ``sweep_dir``; returns what was found.

    ``sweep_finished=True`` (the end of a multirun) reports every job still marked running as
    interrupted; otherwise that is decided by whether its process is still alive.
    """
    sweep_dir = check_sweep_dir(Path(sweep_dir))
    jobs = [read_job(path, sweep_finished) for path in job_dirs(sweep_dir)]
    varying = varying_keys(jobs)
    if any(job.backend for job in jobs):  # the backend column shows it, with its version
        varying = [key for key in varying if key != "backend"]
    for job in jobs:
        job.label = ", ".join(f"{key}={job.overrides[key]}" for key in varying if key in job.overrides)
        job.label = job.label or f"job {job.name}"

    objectives = Counter(job.objective for job in jobs if job.objective)
    objective = objectives.most_common(1)[0][0] if objectives else None
    direction, source = choose_direction(sweep_dir, objective)
    sign = 1.0 if direction == "minimize" else -1.0
    order = {job.name: index for index, job in enumerate(jobs)}
    # Only values of the sweep's objective are compared; a job with another metric goes after them.
    ranked = {job.name for job in jobs if job.value is not None and job.objective == objective}
    jobs.sort(
        key=lambda job: (job.name not in ranked, sign * job.value if job.name in ranked else 0.0, order[job.name])
    )
    best = next((job for job in jobs if job.status == "completed" and job.name in ranked), None)
    if best is not None:
        best.best = True

    summary = SweepSummary(sweep_dir, objective, direction, source, varying, jobs)
    with open(sweep_dir / SUMMARY_CSV, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(summary.columns(commands=True))
        writer.writerows(summary.rows(commands=True))
    (sweep_dir / SUMMARY_MD).write_text(summary.markdown(), encoding="utf-8")
    figure_jobs = sorted(jobs, key=lambda job: order[job.name])  # job order: the same colour for a job every time
    summary.figure = plot_validation_losses(
        figure_jobs, sweep_dir / FIGURE, f"Validation loss: {sweep_name(sweep_dir)}"
    )
    if summary.figure is None and (sweep_dir / FIGURE).exists():
        (sweep_dir / FIGURE).unlink()  # an older figure would no longer match the summary
    return summary


def report(summary: SweepSummary) -> str:
    """What the end of a multirun and `dlbook summarize` print: where the files are, and the table."""
    files = [SUMMARY_CSV, SUMMARY_MD] + ([FIGURE] if summary.figure else [])
    return f"Sweep summary ({', '.join(files)}) in {display_path(summary.sweep_dir)}:\n\n{summary.markdown()}"


def _make_callback_class():
    from hydra.experimental.callback import Callback

    class SweepSummaryCallback(Callback):
        """Hydra callback: summarize the sweep at the end of every multirun; never makes the sweep fail."""

        def __init__(self) -> None:
            self.sweep_dir: str | None = None

        def on_multirun_start(self, config, **kwargs) -> None:
            # Resolving the ${now:...} of hydra.sweep.dir here pins it (Hydra caches `now` per config),
            # so the end of the sweep names the folder its jobs went to.
            try:
                self.sweep_dir = str(config.hydra.sweep.dir)
            except Exception as error:  # noqa: BLE001 - a summary must never stop a sweep
                log.warning("sweep summary: cannot read hydra.sweep.dir: %s", error)

        def on_multirun_end(self, config, **kwargs) -> None:
            try:
                summary = summarize(self.sweep_dir or str(config.hydra.sweep.dir), sweep_finished=True)
                print("\n" + report(summary), flush=True)
            except Exception as error:  # noqa: BLE001 - the jobs' results are on disk; `dlbook summarize` retries
                log.warning(
                    "sweep summary failed (%s: %s); the jobs' results are unaffected. "
                    "Rebuild it with: dlbook summarize <sweep dir>",
                    type(error).__name__,
                    error,
                )

    SweepSummaryCallback.__module__ = __name__
    SweepSummaryCallback.__qualname__ = "SweepSummaryCallback"
    return SweepSummaryCallback


def __getattr__(name: str):
    # The callback subclasses Hydra's Callback; building it on first use keeps Hydra out of
    # `dlbook summarize`, which only reads files.
    if name == "SweepSummaryCallback":
        cls = _make_callback_class()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
