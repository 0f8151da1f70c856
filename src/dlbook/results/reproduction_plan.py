"""What `dlbook reproduce` can run: each catalogue experiment's composed config checked for the files it reads.

Every experiment's config is composed (Hydra's compose API) and checked for the files it would read (a
dataset in Keras' cache, ImageNet weights in Keras' models cache, a Kaggle folder) without downloading
anything: what is missing is listed with the command that gets it, never silently skipped. No TensorFlow.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from omegaconf import DictConfig, ListConfig, OmegaConf

from dlbook.config.catalog import CatalogEntry, catalog
from dlbook.config.resources import conf_dir, experiments_dir
from dlbook.datasets.io.download import cache_path, cached, keras_home
from dlbook.errors import ConfigError

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
