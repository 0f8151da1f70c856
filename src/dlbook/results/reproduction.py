"""`dlbook reproduce`: run catalogue experiments one after another and tabulate them against the book.

Each experiment runs as its own ``python -m dlbook train`` process (TensorFlow's state and memory are
released between runs, and one crash cannot take the others down). Before anything runs, every
experiment's composed config is checked for the files it would read (a dataset in Keras' cache,
ImageNet weights in Keras' models cache, a Kaggle folder) without downloading anything: what is
missing is listed as "data not available" with the command that gets it, never silently skipped.
At the end ``reproduction.md`` and ``reproduction.json`` are written to the reproduce folder (with the
software versions, the date and each run's data source). With ``results=docs/results`` the record is
saved there too: reproduction.json and each run's small files (metrics.json, provenance.json,
status.json), with this machine's folders left out; with ``readme=README.md`` the README's catalogue
table is then rebuilt from the records in ``results`` alone (dlbook.results.catalog_table).

This module imports no TensorFlow: the runs import it in their own processes.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from omegaconf import DictConfig, ListConfig, OmegaConf

from dlbook.config.catalog import CatalogEntry, catalog
from dlbook.config.resources import conf_dir, experiments_dir
from dlbook.datasets.io.download import cache_path, cached, keras_home
from dlbook.errors import ConfigError, DlbookError
from dlbook.results.report import _format, table
from dlbook.run.directory import METRICS_FILE, PROVENANCE_FILE, STATUS_FILE, package_versions, read_json, write_json

REPORT_MD = "reproduction.md"
REPORT_JSON = "reproduction.json"
# Every quick run is shrunk by the debug group (one epoch, a few steps per epoch).
QUICK_OVERRIDES = ("debug=fast",)
KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications"


@dataclass(frozen=True)
class DataNeed:
    """What one dataset loader (a ``_target_``) reads from disk when its ``path`` is not given.

    ``names``: any one of them under ``<cache_dir>/datasets/`` will do (a trailing ``/`` means a
    folder). ``name_from_origin``: the loader names its cache file after the ``origin`` URL, so that
    name is checked too. ``offline``: config values with which the loader needs no file at all.
    ``quick``: overrides that switch it to such an offline source in quick mode. ``only_if``: the
    need applies only when this config key has this value (GloVe, only for ``embedding.weights=glove``).
    ``path_required``: no download exists (Kaggle needs a login), so ``path`` must be given unless
    the cache holds the ready split tree, which is then passed as ``<node>.path``.
    """

    label: str
    names: tuple[str, ...] = ()
    name_from_origin: bool = False
    offline: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    quick: Mapping[str, str] = field(default_factory=dict)
    only_if: tuple[str, Any] | None = None
    path_required: bool = False
    how: str = ""


# The one table of what each loader needs; keys are resolved `_target_`s found anywhere in an
# experiment's composed config (dataset, dataset.images, embedding.glove, ...).
DATA_NEEDS: dict[str, DataNeed] = {
    "dlbook.datasets.mnist.load": DataNeed(
        "MNIST", ("mnist.npz",), offline={"source": ("bundled",)}, quick={"source": "bundled"}
    ),
    "dlbook.datasets.boston_housing.load": DataNeed(
        "Boston housing", ("boston_housing.npz",), offline={"source": ("auto", "bundled")}
    ),
    "dlbook.datasets.imdb.load": DataNeed("IMDB", ("imdb.npz",)),
    "dlbook.datasets.imdb_sequences.load": DataNeed("IMDB", ("imdb.npz",)),
    "dlbook.datasets.reuters.load": DataNeed("Reuters", ("reuters.npz",)),
    "dlbook.datasets.jena_climate.load": DataNeed("Jena climate", ("jena_climate_2009_2016.csv.zip",)),
    "dlbook.datasets.text_corpus.load": DataNeed("text corpus", ("nietzsche.txt",), name_from_origin=True),
    "dlbook.datasets.cifar10.load": DataNeed("CIFAR-10", ("cifar-10-python.tar.gz",)),
    "dlbook.datasets.imdb_text.load": DataNeed("IMDB raw text", ("aclImdb_v1.tar.gz", "aclImdb/")),
    "dlbook.datasets.glove.embedding_matrix": DataNeed(
        "GloVe", ("glove.6B.zip",), name_from_origin=True, only_if=("embedding.weights", "glove")
    ),
    "dlbook.datasets.cats_vs_dogs.load": DataNeed(
        "Kaggle cats vs dogs",
        ("cats_and_dogs_small/",),
        path_required=True,
        how="download train.zip from https://www.kaggle.com/c/dogs-vs-cats/data (Kaggle login), unzip it",
    ),
}

# ImageNet weights that a config node asks for: `_target_` -> (Keras' folder, file name stem). The
# deep-dream and style-transfer tasks build their base themselves, so their task nodes are listed.
WEIGHTS_NEEDS: dict[str, tuple[str, str]] = {
    "keras.applications.VGG16": ("vgg16", "vgg16_weights_tf_dim_ordering_tf_kernels"),
    "keras.applications.VGG19": ("vgg19", "vgg19_weights_tf_dim_ordering_tf_kernels"),
    "keras.applications.InceptionV3": ("inception_v3", "inception_v3_weights_tf_dim_ordering_tf_kernels"),
    "dlbook.tasks.deep_dream.run": ("inception_v3", "inception_v3_weights_tf_dim_ordering_tf_kernels"),
    "dlbook.tasks.style_transfer.run": ("vgg19", "vgg19_weights_tf_dim_ordering_tf_kernels"),
}
# keras.applications constructors default to include_top=True; the dlbook tasks use no top.
_TASKS_WITHOUT_TOP = ("dlbook.tasks.deep_dream.run", "dlbook.tasks.style_transfer.run")


@dataclass
class Plan:
    """One experiment to reproduce: its catalogue entry, the overrides of its run, and whether it can run."""

    entry: CatalogEntry
    overrides: list[str]
    band: list[float] | None = None
    missing: list[str] = field(default_factory=list)

    @property
    def available(self) -> bool:
        return not self.missing


@dataclass
class Row:
    """One line of reproduction.md (and one object of reproduction.json)."""

    experiment: str
    section: str
    title: str
    metric: str | None
    book: float | None
    band: list[float] | None
    value: float | None = None
    # true / false, or "not comparable" (other data than the book's, debug limits) with the reason.
    reproduced: bool | str | None = None
    reason: str | None = None
    wall_s: float | None = None
    data: str | None = None
    status: str = "not run"
    run: str | None = None
    curves: str | None = None
    log: str | None = None
    command: list[str] | None = None


# --------------------------------------------------------------------------------------------------
# Composing configs (Hydra's compose API) and deciding availability.


@contextlib.contextmanager
def _train_composer() -> Iterator[Any]:
    """Hydra's ``compose`` for the `train` config, also from inside a running Hydra app.

    ``dlbook reproduce`` is itself a Hydra app, whose GlobalHydra would make ``initialize_config_dir``
    refuse to start; it is set aside for the composing and put back untouched afterwards.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.singleton import Singleton

    running = Singleton._instances.pop(GlobalHydra, None)
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            yield lambda overrides: compose(config_name="train", overrides=list(overrides))
    finally:
        Singleton._instances.pop(GlobalHydra, None)
        if running is not None:
            Singleton._instances[GlobalHydra] = running


def _nodes(cfg: Any, keys: tuple = ()) -> Iterator[tuple[tuple, DictConfig]]:
    """Every mapping node of ``cfg`` with a ``_target_``, with its key path, without resolving values.

    Interpolations such as ``glove: ${embedding.glove}`` are not followed, so a node shared by
    reference is visited once, where it is defined.
    """
    if cfg._is_none() or cfg._is_missing():
        return
    if isinstance(cfg, DictConfig):
        if "_target_" in cfg:
            yield keys, cfg
        for key in cfg:
            if not keys and key == "hydra":
                continue  # Hydra's own settings load no data
            child = cfg._get_node(key)
            if isinstance(child, (DictConfig, ListConfig)) and not child._is_interpolation():
                yield from _nodes(child, (*keys, key))
    elif isinstance(cfg, ListConfig):
        for index in range(len(cfg)):
            child = cfg._get_node(index)
            if isinstance(child, (DictConfig, ListConfig)) and not child._is_interpolation():
                yield from _nodes(child, (*keys, index))


def _value(node: DictConfig, key: str, default: Any = None) -> Any:
    """``node[key]`` resolved; an interpolation that cannot be resolved here counts as unset."""
    try:
        return node.get(key, default)
    except Exception:  # noqa: BLE001 - e.g. ${hydra:...}, only known inside a run
        return default


def _reproduce_line(name: str) -> str | None:
    """The command of the experiment's ``# Reproduce:`` header line, if it has one."""
    path = experiments_dir() / f"{name}.yaml"
    if not path.is_file():
        return None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# Reproduce:"):
            return " ".join(line.removeprefix("# Reproduce:").split())
    return None


def _data_problem(need: DataNeed, node: DictConfig, ancestors: list[DictConfig], cfg: DictConfig) -> tuple:
    """(None or what is missing, extra overrides) for one dataset node."""
    if need.only_if is not None and OmegaConf.select(cfg, need.only_if[0], default=None) != need.only_if[1]:
        return None, []
    # A local copy given by the user (here or on an enclosing dataset node) needs no check here: the
    # run's loader says clearly if it is wrong.
    if any(_value(each, "path") is not None for each in [node, *ancestors]):
        return None, []
    for key, values in need.offline.items():
        if _value(node, key) in values:
            return None, []
    cache_dir = _value(node, "cache_dir")
    origin = _value(node, "origin")
    names = list(need.names)
    if need.name_from_origin and origin:
        from_origin = Path(urlparse(str(origin)).path).name
        names = [from_origin] if from_origin else names
    for name in names:
        if name.endswith("/"):
            folder = cache_path(name.rstrip("/"), cache_dir)
            if folder.is_dir() and any(folder.iterdir()):
                if need.path_required:
                    return None, [f"{_path_key(node, ancestors)}={folder}"]
                return None, []
        elif cached(name, cache_dir) is not None:
            return None, []
    where = cache_path("", cache_dir)
    wanted = " or ".join(name.rstrip("/") for name in names)
    how = f"get it from {origin}" if origin else need.how
    return f"{need.label}: {wanted} is not in {where} ({how})", []


def _path_key(node: DictConfig, ancestors: list[DictConfig]) -> str:
    """The dotted key of the outermost dataset node's ``path`` (``dataset.path`` for the Kaggle images)."""
    outermost = ancestors[0] if ancestors else node
    return f"{outermost._get_full_key(None)}.path" if outermost._get_full_key(None) else "dataset.path"


def _weights_problem(target: str, node: DictConfig) -> str | None:
    """What is missing when ``node`` asks for ImageNet weights that Keras' models cache lacks."""
    weights = _value(node, "weights")
    if weights != "imagenet":
        return None  # null (random), or a weights file the user gave
    folder, stem = WEIGHTS_NEEDS[target]
    include_top = target not in _TASKS_WITHOUT_TOP and bool(_value(node, "include_top", True))
    fname = f"{stem}.h5" if include_top else f"{stem}_notop.h5"
    if (keras_home() / "models" / fname).is_file():
        return None
    return (
        f"weights not available: ImageNet weights {fname} are not in {keras_home() / 'models'} "
        f"(get them from {KERAS_WEIGHTS_URL}/{folder}/{fname})"
    )


def check_availability(cfg: DictConfig) -> tuple[list[str], list[str]]:
    """What a composed `train` config would read that is not on this machine, without downloading.

    Returns (missing: one sentence per file, each saying where it comes from; extra overrides that
    point the run at what was found, e.g. the cached Kaggle split tree as ``dataset.path``).
    """
    missing: list[str] = []
    extra: list[str] = []
    stack: list[tuple[tuple, DictConfig]] = []
    for keys, node in _nodes(cfg):
        target = str(_value(node, "_target_"))
        # The dataset nodes that enclose this one (e.g. vgg16_features around its images).
        stack = [(k, n) for k, n in stack if keys[: len(k)] == k]
        ancestors = [n for _, n in stack]
        if target in DATA_NEEDS:
            problem, overrides = _data_problem(DATA_NEEDS[target], node, ancestors, cfg)
            if problem and problem not in missing:
                missing.append(problem)
            extra += [override for override in overrides if override not in extra]
        if target in WEIGHTS_NEEDS:
            problem = _weights_problem(target, node)
            if problem and problem not in missing:
                missing.append(problem)
        if "path" in node:
            stack.append((keys, node))
    return missing, extra


def quick_overrides(cfg: DictConfig) -> list[str]:
    """The overrides that make an experiment quick: debug=fast, plus an offline source where one exists."""
    overrides = list(QUICK_OVERRIDES)
    for keys, node in _nodes(cfg):
        need = DATA_NEEDS.get(str(_value(node, "_target_")))
        if need is not None and keys:
            prefix = ".".join(str(key) for key in keys)
            overrides += [f"{prefix}.{key}={value}" for key, value in need.quick.items()]
    return overrides


def _selected(experiments: Sequence[str] | None) -> list[CatalogEntry]:
    """The catalogue entries asked for, in the order given (all of them, in book order, for None)."""
    entries = catalog()
    if experiments is None:
        return entries
    if isinstance(experiments, str):
        experiments = [part.strip() for part in experiments.split(",") if part.strip()]
    by_name = {entry.name: entry for entry in entries}
    unknown = [name for name in experiments if str(name) not in by_name]
    if unknown:
        raise ConfigError(
            f"experiments={list(experiments)} is not valid: unknown experiment(s) {', '.join(map(str, unknown))}. "
            f"Valid names: {', '.join(sorted(by_name))} (or experiments=null for the whole catalogue)."
        )
    if not experiments:
        raise ConfigError("experiments=[] is not valid: name at least one experiment, or null for the whole catalogue.")
    # An experiment named twice would run twice into the same folder: keep the first.
    return [by_name[name] for name in dict.fromkeys(str(name) for name in experiments)]


def plan(experiments: Sequence[str] | None, quick: bool = False, overrides: Sequence[str] = ()) -> list[Plan]:
    """Compose each chosen experiment (with the quick and extra overrides) and decide whether it can run."""
    plans = []
    with _train_composer() as compose:
        for entry in _selected(experiments):
            base = [f"experiment={entry.name}"]
            try:
                cfg = compose([*base, *overrides])
                run_overrides = [*(quick_overrides(cfg) if quick else []), *overrides]
                cfg = compose([*base, *run_overrides])
            except Exception as error:  # noqa: BLE001 - Hydra's override and composition errors
                raise ConfigError(
                    f"overrides={list(overrides)} do not compose with experiment={entry.name}: {error}"
                ) from error
            missing, extra = check_availability(cfg)
            band = OmegaConf.select(cfg, "reference.band", default=None)
            plans.append(
                Plan(
                    entry,
                    [*run_overrides, *extra],
                    band=list(OmegaConf.to_container(band)) if band is not None else None,
                    missing=missing,
                )
            )
    return plans


# --------------------------------------------------------------------------------------------------
# Running and reporting.


def _relative(path: Path, start: Path) -> str:
    return os.path.relpath(path, start)


def _wall(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def run_one(item: Plan, folder: Path, timeout_minutes: float | None = None) -> Row:
    """Run one available experiment as `python -m dlbook train` in a fresh process; its row for the table."""
    name = item.entry.name
    run_dir = folder / "runs" / name
    log = folder / "logs" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "dlbook",
        "train",
        f"experiment={name}",
        f"paths.output_dir={folder / 'runs'}",
        # A fixed folder per experiment, so that the table can link it without searching.
        f"hydra.run.dir={run_dir}",
        *item.overrides,
    ]
    row = _row(item, folder)
    row.command = command[2:]
    row.log = _relative(log, folder)
    environment = dict(os.environ)
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    started = time.monotonic()
    timed_out = False
    with open(log, "w", encoding="utf-8") as output:
        try:
            completed = subprocess.run(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=environment,
                timeout=timeout_minutes * 60 if timeout_minutes else None,
                check=False,
            )
            returncode = completed.returncode
        except subprocess.TimeoutExpired:
            timed_out, returncode = True, None
    row.wall_s = round(time.monotonic() - started, 1)

    status = read_json(run_dir / STATUS_FILE) if (run_dir / STATUS_FILE).is_file() else {}
    if run_dir.is_dir():
        row.run = _relative(run_dir, folder)
    if timed_out:
        row.status = f"failed: timeout after {timeout_minutes} min"
    elif status.get("status") == "completed" and returncode == 0:
        row.status = "completed"
    elif status.get("error"):
        row.status = f"failed: {status['error'].get('type', 'error')}"
    else:
        row.status = f"failed: exit code {returncode}"
    metrics_file = run_dir / METRICS_FILE
    if metrics_file.is_file():
        metrics = read_json(metrics_file)
        row.data = metrics.get("data")
        reference = metrics.get("reference") or {}
        row.value = reference.get("value")
        row.reproduced = reference.get("reproduced")
        row.reason = reference.get("reason")
        row.band = reference.get("band", row.band)
        row.book = reference.get("book", row.book)
        row.metric = reference.get("metric", row.metric)
    if (run_dir / "curves.png").is_file():
        row.curves = _relative(run_dir / "curves.png", folder)
    return row


def _row(item: Plan, folder: Path) -> Row:
    entry = item.entry
    return Row(entry.name, entry.section, entry.title, entry.metric, entry.book_value, item.band)


def unavailable_row(item: Plan, folder: Path) -> Row:
    """The row of an experiment that cannot run here: what is missing and the command that gets it."""
    row = _row(item, folder)
    command = _reproduce_line(item.entry.name) or f"dlbook train experiment={item.entry.name}"
    row.status = f"data not available: {'; '.join(item.missing)}; then run: {command}"
    return row


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(rows: list[Row], quick: bool, overrides: Sequence[str], started: str) -> str:
    """reproduction.md: a heading that says the mode, then one table row per experiment."""
    if quick:
        mode = (
            "**Quick mode: on** (debug=fast: one epoch of a few steps per fit; offline data where an experiment "
            "has an offline source). Quick numbers are NOT comparable with the book."
        )
    else:
        mode = "**Quick mode: off**: each experiment's full protocol, as in the book."
    lines = [
        "# Reproduction of Deep Learning with Python (1st ed.)",
        "",
        f"Started {started}. {mode}",
    ]
    if overrides:
        lines.append(f"Extra overrides for every run: `{' '.join(overrides)}`.")
    completed = sum(row.status == "completed" for row in rows)
    reproduced = sum(row.reproduced is True for row in rows)
    lines += [
        f"{completed} of {len(rows)} experiments completed; {reproduced} reproduced the book's number.",
        "",
        "| Experiment | Book section | Metric | Book | Band | Ours | Reproduced | Wall time | Data | Status | Run |"
        " Curves |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [
            row.experiment,
            f"{row.section} {row.title}".strip(),
            row.metric or "-",
            _format(row.book),
            _format(row.band),
            _format(row.value),
            _verdict(row),
            _wall(row.wall_s),
            row.data or "-",
            row.status,
            f"[run]({row.run})" if row.run else "-",
            f"[curves.png]({row.curves})" if row.curves else "-",
        ]
        lines.append("| " + " | ".join(_cell(str(cell)) for cell in cells) + " |")
    lines.append("")
    return "\n".join(lines)


def _verdict(row: Row) -> str:
    """yes / no, or "not comparable (<reason>)"; a dash when the experiment has no band."""
    if row.reproduced is None:
        return "—"
    if row.reason:
        return f"{_format(row.reproduced)} ({row.reason})"
    return _format(row.reproduced)


def text_table(rows: list[Row]) -> str:
    """The table printed at the end of `dlbook reproduce`."""
    body = [
        [
            row.experiment,
            row.section,
            row.metric or "-",
            _format(row.book),
            _format(row.value),
            "-" if row.reproduced is None else _format(row.reproduced),
            _wall(row.wall_s),
            row.status,
        ]
        for row in rows
    ]
    return table(body, ["experiment", "section", "metric", "book", "ours", "reproduced", "wall", "status"])


def run_reproduction(
    folder: str | Path,
    experiments: Sequence[str] | None = None,
    quick: bool = False,
    overrides: Sequence[str] = (),
    timeout_minutes: float | None = None,
    echo: bool = True,
) -> list[Row]:
    """Plan, run every available experiment in turn, and write reproduction.md / .json into ``folder``."""
    if timeout_minutes is not None and not (
        isinstance(timeout_minutes, (int, float)) and not isinstance(timeout_minutes, bool) and timeout_minutes > 0
    ):
        raise ConfigError(f"timeout_minutes={timeout_minutes} is not valid: a positive number of minutes, or null")
    overrides = [str(override) for override in overrides or []]
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    software = package_versions()  # the code that runs: taken once, before the first run
    plans = plan(experiments, quick, overrides)
    rows = []
    for index, item in enumerate(plans, start=1):
        if not item.available:
            row = unavailable_row(item, folder)
        else:
            if echo:
                print(f"[{index}/{len(plans)}] {item.entry.name} ...", flush=True)
            row = run_one(item, folder, timeout_minutes)
        if echo:
            print(f"[{index}/{len(plans)}] {item.entry.name}: {row.status}", flush=True)
        rows.append(row)
        # Rewritten after each experiment, so a long reproduction shows its progress (and survives a kill).
        write_report(folder, rows, quick, overrides, started, software)
    return rows


def write_report(
    folder: Path,
    rows: list[Row],
    quick: bool,
    overrides: Sequence[str],
    started: str,
    software: dict[str, Any] | None = None,
) -> None:
    """reproduction.md and reproduction.json in ``folder`` (``software``: package_versions() at the start)."""
    (folder / REPORT_MD).write_text(markdown(rows, quick, overrides, started), encoding="utf-8")
    write_json(
        folder / REPORT_JSON,
        {
            "quick": quick,
            "overrides": list(overrides),
            "started": started,
            "provenance": software or package_versions(),
            "rows": [asdict(row) for row in rows],
        },
    )


# The small files of a run that a record keeps (the model, curves and TensorBoard events stay in outputs/).
RECORD_RUN_FILES = (METRICS_FILE, PROVENANCE_FILE, STATUS_FILE)


def save_record(folder: Path, results: str | Path) -> Path:
    """Copy a finished reproduction's record into ``results/<its folder name>/``; returns that folder.

    The record is reproduction.json and each run's metrics.json, provenance.json and status.json: small
    files, fit for committing. Folders of this machine are replaced by placeholders (``<reproduction>``,
    ``$KERAS_HOME``, ``<dlbook>``, ``~``), so a record says what ran, not where.
    """
    folder = Path(folder).resolve()
    target = Path(results) / folder.name
    target.mkdir(parents=True, exist_ok=True)
    places = _machine_places(folder)
    report = read_json(folder / REPORT_JSON)
    for row in report.get("rows", []):
        if not row.get("run"):
            continue
        for name in RECORD_RUN_FILES:
            source = folder / row["run"] / name
            if source.is_file():
                (target / row["run"]).mkdir(parents=True, exist_ok=True)
                write_json(target / row["run"] / name, _without_places(read_json(source), places))
    write_json(target / REPORT_JSON, _without_places(report, places))
    return target


def _machine_places(folder: Path) -> list[tuple[str, str]]:
    """(folder of this machine, its placeholder), longest first, so that the most specific one is replaced."""
    import dlbook

    places = {
        str(folder): "<reproduction>",
        str(keras_home()): "$KERAS_HOME",
        str(Path(dlbook.__file__).resolve().parent.parent): "<dlbook>",
        str(Path(sys.executable).parent): "<python>",
        str(Path.cwd()): ".",
        str(Path.home()): "~",
    }
    return sorted(((place, name) for place, name in places.items() if len(place) > 1), key=lambda item: -len(item[0]))


def _without_places(content: Any, places: list[tuple[str, str]]) -> Any:
    if isinstance(content, str):
        for place, name in places:
            content = content.replace(place, name)
        return content
    if isinstance(content, list):
        return [_without_places(item, places) for item in content]
    if isinstance(content, dict):
        return {key: _without_places(value, places) for key, value in content.items()}
    return content


def exit_code(rows: list[Row]) -> int:
    """0 when at least one experiment completed, else 1 (every run failed, or none could run)."""
    return 0 if any(row.status == "completed" for row in rows) else 1


def reproduce(cfg: DictConfig) -> int:
    """The Hydra task of `dlbook reproduce`: writes into Hydra's output folder, exits 1 if nothing completed."""
    from hydra.core.hydra_config import HydraConfig

    from dlbook.errors import exit_for_user_error

    folder = Path(HydraConfig.get().runtime.output_dir)
    experiments = cfg.experiments
    if isinstance(experiments, ListConfig):
        experiments = [str(name) for name in experiments]
    overrides = cfg.overrides if cfg.overrides is not None else []
    if isinstance(overrides, str):
        overrides = [overrides]
    readme = cfg.get("readme")
    results = cfg.get("results")
    try:
        quick = cfg.quick
        if not isinstance(quick, bool):
            raise ConfigError(f"quick={quick} is not valid: true or false")
        if readme is not None:
            from dlbook.results.catalog_table import check_readme

            if results is None:
                raise ConfigError(
                    f"readme={readme} needs results=<folder> (e.g. results=docs/results): README's table is rebuilt "
                    "from the reproduction records saved there, never from a single run's folder in outputs/."
                )
            readme = check_readme(readme)  # before hours of runs, not after
        rows = run_reproduction(folder, experiments, quick, list(overrides), cfg.timeout_minutes)
    except DlbookError as error:
        exit_for_user_error(error)
        raise
    print("", flush=True)
    print(text_table(rows), flush=True)
    if quick:
        print("(quick mode: debug settings and offline data; the numbers are not comparable with the book)")
    print(f"\nReport: {folder / REPORT_MD}", flush=True)
    if results is not None:
        print(f"Record saved in {save_record(folder, results)}", flush=True)
    if readme is not None:
        from dlbook.results.catalog_table import update_readme

        update_readme(readme, results)
        print(f"Catalogue table rewritten in {readme} from the records in {results}", flush=True)
    code = exit_code(rows)
    if code:
        raise SystemExit(code)
    return code
