"""`dlbook visualize`: the Hydra task function that draws what a convnet learned (book 5.4) as PNGs.

The model is a run's model.keras (``run=<run dir>``; the images go to ``<run>/visualizations/``) or a
keras.applications model (``model={_target_: keras.applications.VGG16, ...}``; the images go to
``outputs/visualize/<timestamp>/``). The same images go to TensorBoard (``tensorboard/visualize``, in the run
beside its training curves).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from dlbook.errors import ConfigError
from dlbook.run.outcome import outcome
from dlbook.visualization.images import TENSORBOARD_SUBDIR

METHODS = ("activations", "filters", "gradcam")
VISUALIZATIONS_DIR = "visualizations"
RESOLVER = "dlbook.visualize_dir"


def visualize_dir(run: str | None, default: str) -> str:
    """Where `dlbook visualize` writes (Hydra's run directory): ``<run>/visualizations`` or ``default``.

    Registered as the ``${dlbook.visualize_dir:...}`` resolver of conf/visualize.yaml. A ``run`` without a
    model.keras also gets ``default``, so that Hydra creates no folder inside a mistyped path; the task
    function then reports the bad ``run`` (an error raised here would reach the user as a traceback).
    """
    from dlbook.run.directory import MODEL_FILE

    if run in (None, "") or not (Path(run) / MODEL_FILE).is_file():
        return default
    return str(Path(run) / VISUALIZATIONS_DIR)


def register_resolver() -> None:
    """Make ``${dlbook.visualize_dir:run,default}`` available to OmegaConf (Hydra resolves hydra.run.dir)."""
    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, visualize_dir)


# Hydra composes the config after importing the task function: the resolver must exist by then.
register_resolver()


def check_method(method: str) -> str:
    """``method`` when it is one of METHODS; a ConfigError listing them otherwise."""
    if method not in METHODS:
        raise ConfigError(f"method={method} is not valid: choose one of {', '.join(METHODS)}.")
    return method


def visualize_backend(cfg: DictConfig) -> str:
    """The Keras backend to draw with: ``backend`` when given, else the run's own (as `dlbook evaluate` does).

    A run's model.keras loads on any backend, so ``backend=jax`` draws a model trained on TensorFlow; a run
    recorded before runs had a backend, and a keras.applications model, use ``tensorflow``.
    """
    if cfg.get("backend") is not None:
        return cfg.backend
    if cfg.run is not None and (Path(cfg.run) / ".hydra" / "config.yaml").is_file():
        from dlbook.run.saved import load_run_config

        return load_run_config(Path(cfg.run)).get("backend", "tensorflow")
    return "tensorflow"


def load_model(cfg: DictConfig):
    """(model, imagenet): the run's model.keras (Keras safe mode) or the configured keras.applications model."""
    if cfg.run is None and cfg.model is None:
        raise ConfigError(
            "run=null and model=null: say which model to draw, run=<a dlbook run directory> or "
            "model='{_target_: keras.applications.VGG16, weights: imagenet, include_top: false}'."
        )
    if cfg.run is not None and cfg.model is not None:
        raise ConfigError(
            f"run={cfg.run} and model={OmegaConf.to_container(cfg.model)} are both given: keep one of them "
            "(model=null to draw the run's model)."
        )
    if cfg.run is not None:
        from dlbook.run.saved import load_run_config

        run_dir = Path(cfg.run)
        load_run_config(run_dir)
        from dlbook.run.trainer import load_run_model

        unsafe_load = cfg.get("unsafe_load", False)
        return load_run_model(run_dir, unsafe_load=unsafe_load, run_key="run", unsafe_key="unsafe_load"), False
    if not isinstance(cfg.model, DictConfig) or "_target_" not in cfg.model:
        raise ConfigError(
            f"model={cfg.model} is not valid: give a keras.applications model as a config, "
            "e.g. model={_target_: keras.applications.VGG16, weights: imagenet, include_top: true}."
        )
    from hydra.utils import instantiate

    try:
        model = instantiate(cfg.model)
    except Exception as error:
        raise ConfigError(
            f"model={OmegaConf.to_container(cfg.model)} could not be built: {error}. ImageNet weights are "
            "downloaded once into KERAS_HOME/models; offline, use weights=null or a run's own model (run=...)."
        ) from error
    return model, cfg.model.get("weights") == "imagenet"


def output_dirs(cfg: DictConfig) -> tuple[Path, Path]:
    """(folder for the PNGs, TensorBoard folder): in a run, its visualizations/ and tensorboard/visualize."""
    if cfg.run is not None:
        return Path(cfg.run) / VISUALIZATIONS_DIR, Path(cfg.run) / TENSORBOARD_SUBDIR
    output = Path(cfg.paths.run_dir)
    return output, output / TENSORBOARD_SUBDIR


def _image_batch(model, photo: np.ndarray, preprocessing: str, key: str) -> np.ndarray:
    """One preprocessed batch of the photo at the model's input size."""
    from dlbook.visualization.images import fit_image, input_shape, preprocess

    return preprocess(fit_image(photo, *input_shape(model))[None], preprocessing, key)


def _activations(
    model, cfg: DictConfig, imagenet: bool, photo: np.ndarray | None
) -> tuple[dict[str, np.ndarray], list[str]]:
    from dlbook.visualization.activations import visualize_activations
    from dlbook.visualization.images import colorize

    settings = cfg.activations
    batch = _image_batch(model, photo, cfg.image_preprocess, "image_preprocess")
    grids = visualize_activations(model, batch, settings.layers, settings.images_per_row)
    colormap = settings.get("colormap")
    images = {f"{index:02d}_{name}": colorize(grid, colormap) for index, (name, grid) in enumerate(grids.items(), 1)}
    return images, [f"{len(grids)} layers, {settings.images_per_row} channels per row"]


def _filters(
    model, cfg: DictConfig, imagenet: bool, photo: np.ndarray | None
) -> tuple[dict[str, np.ndarray], list[str]]:
    from dlbook.visualization.filters import visualize_filters

    settings = cfg.filters
    grids, losses = visualize_filters(
        model,
        list(settings.layers),
        count=settings.count,
        size=settings.size,
        steps=settings.steps,
        step_size=settings.step_size,
        margin=settings.margin,
        seed=cfg.seed,
    )
    lines = [
        f"{name}: {loss.shape[1]} filters, mean activation {loss[0].mean():.4g} -> {loss[-1].mean():.4g} "
        f"after {loss.shape[0] - 1} steps"
        for name, loss in losses.items()
    ]
    return grids, lines


def _gradcam(
    model, cfg: DictConfig, imagenet: bool, photo: np.ndarray | None
) -> tuple[dict[str, np.ndarray], list[str]]:
    from dlbook.visualization.gradcam import (
        default_layer,
        describe_predictions,
        gradcam_heatmap,
        heatmap_image,
        overlay_heatmap,
    )

    settings = cfg.gradcam
    preprocessing = settings.preprocess if settings.preprocess is not None else cfg.image_preprocess
    batch = _image_batch(model, photo, preprocessing, "gradcam.preprocess")
    layer = settings.layer or default_layer(model)
    heatmap, predictions, class_index = gradcam_heatmap(model, batch, layer, settings.class_index)
    lines = ["Predicted:", *(f"  {line}" for line in describe_predictions(predictions, settings.top, imagenet))]
    lines.append(f"Grad-CAM of class {class_index} at layer {layer}: heatmap {heatmap.shape[0]}x{heatmap.shape[1]}")
    images = {"heatmap": heatmap_image(heatmap), "overlay": overlay_heatmap(photo, heatmap, settings.alpha)}
    return images, lines


RENDERERS = {"activations": _activations, "filters": _filters, "gradcam": _gradcam}


def visualize(cfg: DictConfig) -> dict[str, list[str]]:
    """Draw ``cfg.method`` for the model; write PNGs and TensorBoard images. Returns {method: [PNG paths]}."""
    with outcome("visualize"):
        method = check_method(cfg.method)
        from dlbook.run.backend import backend_description, select_backend
        from dlbook.run.runtime import prepare_backend
        from dlbook.visualization.images import load_image, save_png, write_tensorboard

        # The photo first: a wrong path is reported before a model is built (VGG16 takes seconds).
        photo = load_image(cfg.image) if method != "filters" else None
        select_backend(visualize_backend(cfg))  # before anything imports Keras
        prepare_backend(cfg.seed, False)
        model, imagenet = load_model(cfg)
        images, lines = RENDERERS[method](model, cfg, imagenet, photo)
        output, tensorboard = output_dirs(cfg)
        written = [str(save_png(image, output / f"{method}_{name}.png")) for name, image in images.items()]
        write_tensorboard({f"{method}/{name}": image for name, image in images.items()}, tensorboard)
        used = backend_description()
    source = f"run {cfg.run}" if cfg.run is not None else cfg.model._target_
    shown = cfg.image if cfg.image is not None else "the sample photo (Chelsea the cat)"
    report = [f"== visualize {method}: {source}" + (f", image {shown} ==" if method != "filters" else " =="), *lines]
    for path, image in zip(written, images.values(), strict=True):
        report.append(f"  {path}  ({image.shape[1]}x{image.shape[0]})")
    report.append(f"TensorBoard images: tensorboard --logdir {tensorboard}")
    report.append(f"Backend: {used['name']} {used['version']} on {', '.join(used['devices'])}")
    print("\n".join(report), flush=True)
    return {method: written}
