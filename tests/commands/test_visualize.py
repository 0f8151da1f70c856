"""`dlbook visualize`: the Hydra task function end to end, on a run directory and on keras.applications.VGG16."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest
from omegaconf import OmegaConf
from PIL import Image

from dlbook.commands.visualize import visualize, visualize_dir
from dlbook.config.resources import conf_dir

VGG16_WITH_TOP = "model={_target_: keras.applications.VGG16, weights: null, include_top: true}"
VGG16_SMALL = "model={_target_: keras.applications.VGG16, weights: null, include_top: false, input_shape: [32, 32, 3]}"


def compose(*overrides: str):
    """conf/visualize.yaml with ``overrides``, as `dlbook visualize` composes it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return hydra_compose("visualize", overrides=list(overrides), return_hydra_config="hydra" in str(overrides))


def run_app(*arguments: str) -> None:
    """The Hydra app as the `dlbook visualize` sub-command runs it (in this process).

    Hydra's logging set-up is left out: it would close pytest's own log handlers (logging.config.dictConfig).
    """
    import hydra
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    argv = sys.argv
    sys.argv = ["dlbook visualize", *arguments, "hydra/job_logging=none", "hydra/hydra_logging=none"]
    try:
        hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="visualize")(visualize)()
    finally:
        sys.argv = argv
        GlobalHydra.instance().clear()


def size(path) -> tuple[int, int]:
    """(width, height) of a PNG file."""
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A dlbook run directory as far as visualize needs one: model.keras and .hydra/config.yaml."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64, 64, 3)),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv_a"),
            keras.layers.MaxPooling2D(2, name="pool_a"),
            keras.layers.Conv2D(16, 3, activation="relu", name="conv_b"),
            keras.layers.MaxPooling2D(2, name="pool_b"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(1, activation="sigmoid", name="score"),
        ]
    )
    run = tmp_path_factory.mktemp("work") / "outputs" / "tiny" / "2026-11-26_16-02-11_123456"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text("name: tiny\nseed: 0\n")
    model.save(run / "model.keras")
    return run


def image_tags(log_dir) -> dict[str, tuple[int, int]]:
    """{tag: (width, height)} of the image summaries in a TensorBoard folder, read back as TensorBoard does."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(log_dir), size_guidance={"tensors": 0})
    accumulator.Reload()
    tags = {}
    for tag in accumulator.Tags()["tensors"]:
        # tf.summary.image stores [width, height, PNG bytes] as strings.
        width, height, *_ = accumulator.Tensors(tag)[0].tensor_proto.string_val
        tags[tag] = (int(width), int(height))
    return tags


def test_app_on_a_run_writes_into_the_run_and_leaves_its_config(tiny_run, monkeypatch, capsys):
    monkeypatch.chdir(tiny_run.parents[2])
    config_before = (tiny_run / ".hydra" / "config.yaml").read_text()
    run_app(f"run={tiny_run}", "method=activations")
    folder = tiny_run / "visualizations"
    # 64x64 -> conv 62 (8 channels) -> pool 31 -> conv 29 (16) -> pool 14; Flatten and Dense are skipped.
    expected = {
        "activations_01_conv_a.png": (8 * 62, 62),
        "activations_02_pool_a.png": (8 * 31, 31),
        "activations_03_conv_b.png": (16 * 29, 29),
        "activations_04_pool_b.png": (16 * 14, 14),
    }
    assert {name: size(folder / name) for name in expected} == expected
    assert all((folder / name).stat().st_size > 100 for name in expected)
    assert (tiny_run / ".hydra" / "config.yaml").read_text() == config_before
    assert OmegaConf.load(folder / ".hydra" / "config.yaml").method == "activations"
    assert image_tags(tiny_run / "tensorboard" / "visualize") == {
        f"activations/{name[len('activations_') : -4]}": shape for name, shape in expected.items()
    }
    assert "activations_04_pool_b.png" in capsys.readouterr().out


def test_gradcam_on_a_runs_sigmoid_model_with_a_photo(tiny_run, tmp_path, capsys):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(photo)
    written = visualize(compose(f"run={tiny_run}", "method=gradcam", f"image={photo}"))
    folder = tiny_run / "visualizations"
    assert written == {"gradcam": [str(folder / "gradcam_heatmap.png"), str(folder / "gradcam_overlay.png")]}
    assert size(folder / "gradcam_overlay.png") == (60, 40)  # the photo's own size
    assert size(folder / "gradcam_heatmap.png") == (29 * 7, 29 * 7)  # conv_b's 29x29 map, enlarged
    out = capsys.readouterr().out
    assert "output 0 (single unit)" in out and "layer conv_b" in out


def test_vgg16_with_top_gradcam_as_in_the_book(tmp_path, capsys):
    cfg = compose(
        VGG16_WITH_TOP,
        "method=gradcam",
        "gradcam.layer=block5_conv3",
        "gradcam.preprocess=vgg16",
        f"paths.run_dir={tmp_path}",
    )
    written = visualize(cfg)["gradcam"]
    assert [size(path) for path in written] == [(14 * 16, 14 * 16), (451, 300)]  # 14x14 heatmap; the cat photo
    assert set(image_tags(tmp_path / "tensorboard" / "visualize")) == {"gradcam/heatmap", "gradcam/overlay"}
    out = capsys.readouterr().out
    assert "heatmap 14x14" in out and "no class names" in out and "model.weights=imagenet" in out


def test_vgg16_filters(tmp_path):
    cfg = compose(
        VGG16_SMALL,
        "method=filters",
        "filters.layers=[block1_conv1,block2_conv1]",
        "filters.count=2",
        "filters.steps=3",
        "filters.size=32",
        f"paths.run_dir={tmp_path}",
    )
    written = visualize(cfg)["filters"]
    assert [path.rsplit("/", 1)[1] for path in written] == ["filters_block1_conv1.png", "filters_block2_conv1.png"]
    assert all(size(path) == (2 * 32 + 5, 32) for path in written)


def test_defaults_are_the_books_settings():
    cfg = compose()
    assert cfg.method == "activations" and cfg.run is None and cfg.model is None and cfg.image is None
    assert OmegaConf.to_container(cfg.activations) == {"layers": 8, "images_per_row": 16, "colormap": "viridis"}
    assert OmegaConf.to_container(cfg.filters) == {
        "layers": ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1"],
        "count": 64,
        "size": 64,
        "steps": 40,
        "step_size": 1.0,
        "margin": 5,
    }
    assert cfg.gradcam.alpha == 0.4 and cfg.gradcam.top == 3 and cfg.gradcam.layer is None


def test_output_folder(tiny_run, tmp_path):
    assert visualize_dir(str(tiny_run), "outputs/visualize/x") == str(tiny_run / "visualizations")
    assert visualize_dir(None, "outputs/visualize/x") == "outputs/visualize/x"
    # A mistyped run gets no folder made inside it; the task function reports it.
    assert visualize_dir(str(tmp_path / "nope"), "outputs/visualize/x") == "outputs/visualize/x"
    hydra_cfg = compose(f"run={tiny_run}", "hydra.job.name=visualize")
    assert OmegaConf.select(hydra_cfg, "hydra.run.dir") == str(tiny_run / "visualizations")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["method=saliency", VGG16_SMALL], "method=saliency is not valid: choose one of activations, filters, gradcam"),
        (["image=no/such/cat.jpg", VGG16_SMALL], "image=no/such/cat.jpg is not valid: no such file"),
        (["method=gradcam", "gradcam.layer=conv_z", "RUN"], "gradcam.layer=conv_z is not valid: .* conv_a, conv_b"),
        (["method=filters", "RUN"], "filters.layers=block1_conv1 is not valid: .* conv_a, conv_b"),
        (["RUN", VGG16_SMALL], "are both given"),
        ([], "run=null and model=null"),
        (["run=no/such/run"], "run=no/such/run is not a completed dlbook run"),
    ],
)
def test_user_errors_are_one_clear_paragraph(overrides, message, tiny_run, tmp_path, capsys):
    overrides = [f"run={tiny_run}" if item == "RUN" else item for item in overrides]
    with pytest.raises(SystemExit) as exit_info:
        visualize(compose(*overrides, f"paths.run_dir={tmp_path}"))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("dlbook: error: ")
    assert re.search(message, err), err
