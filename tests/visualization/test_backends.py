"""`dlbook visualize` on JAX and PyTorch: a run's model.keras (saved on TensorFlow) drawn with backend=jax|torch.

Keras fixes its backend at import, so each backend runs in a subprocess of its own: the real `dlbook visualize`
command (gradcam, filters, activations), then the Grad-CAM heatmap of the same model and image, compared here with the
one TensorFlow computes in this process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from fakes import residual_convnet
from PIL import Image

from dlbook.commands.visualize import visualize, visualize_backend
from dlbook.config.resources import conf_dir
from dlbook.visualization.filters import generate_patterns
from dlbook.visualization.gradcam import gradcam_heatmap
from dlbook.visualization.images import fit_image, input_shape, load_image, preprocess

BACKENDS = [
    pytest.param(name, marks=pytest.mark.skipif(importlib.util.find_spec(name) is None, reason=f"{name} not installed"))
    for name in ("jax", "torch")
]
FILTER_COUNT = 4
FILTER_STEPS = 6

# In the backend's own process: the CLI twice, as a user types it, then the heatmaps and filter losses.
SCRIPT = r"""
import json, sys
from dlbook.cli import main

run, photo, backend, count, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
codes = [
    main(["visualize", f"run={run}", "method=gradcam", f"image={photo}", f"backend={backend}"]),
    main(["visualize", f"run={run}", "method=filters", "filters.layers=[conv_a,conv_c]", f"filters.count={count}",
          f"filters.steps={steps}", "filters.size=24", f"backend={backend}"]),
    main(["visualize", f"run={run}", "method=activations", f"image={photo}", f"backend={backend}"]),
]
import keras
from dlbook.visualization.filters import generate_patterns
from dlbook.config.resources import conf_dir
from dlbook.commands.visualize import visualize, visualize_backend
from dlbook.visualization.filters import generate_patterns
from dlbook.visualization.gradcam import gradcam_heatmap
from dlbook.visualization.images import fit_image, input_shape, load_image, preprocess

model = keras.saving.load_model(f"{run}/model.keras")
batch = preprocess(fit_image(load_image(photo), *input_shape(model))[None], "rescale", "image_preprocess")
heatmaps = {layer: gradcam_heatmap(model, batch, layer, None)[0].tolist() for layer in ("conv_b", "conv_c")}
_, losses = generate_patterns(model, "conv_c", list(range(count)), size=24, steps=steps)
result = {"backend": keras.backend.backend(), "codes": codes}
print(json.dumps({**result, "heatmaps": heatmaps, "losses": losses.tolist()}))
"""


def compose(*overrides: str):
    """conf/visualize.yaml with ``overrides``, as `dlbook visualize` composes it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return hydra_compose("visualize", overrides=list(overrides))


@pytest.fixture(scope="module")
def residual_run(tmp_path_factory):
    """A run directory with a functional convnet (a skip connection around conv_b) saved on TensorFlow, and a photo."""
    model = residual_convnet()
    work = tmp_path_factory.mktemp("work")
    run = work / "outputs" / "residual" / "2026-11-26_16-02-11_123456"
    (run / ".hydra").mkdir(parents=True)
    # Trained on TensorFlow, as its config says: backend= on the command line overrides it.
    (run / ".hydra" / "config.yaml").write_text("name: residual\nseed: 0\nbackend: tensorflow\n")
    model.save(run / "model.keras")
    photo = work / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(photo)
    return run, photo


def run_backend(backend: str, run, photo) -> tuple[dict, str]:
    """SCRIPT on ``backend`` in a fresh process: (its JSON result, its output)."""
    env = {**os.environ, "KERAS_HOME": str(run.parents[2] / "keras_home"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("KERAS_BACKEND", None)  # the backend= key alone must choose it
    arguments = [str(run), str(photo), backend, str(FILTER_COUNT), str(FILTER_STEPS)]
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, *arguments],
        cwd=run.parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_tensorflow_run_is_drawn_on_another_backend(backend, residual_run):
    run, photo = residual_run
    for folder in ("visualizations", "tensorboard"):
        shutil.rmtree(run / folder, ignore_errors=True)
    result, out = run_backend(backend, run, photo)
    assert result["backend"] == backend and result["codes"] == [0, 0, 0]
    assert f"Backend: {backend} " in out
    # The files a user opens: the heatmap (conv_c's 11x11 map, enlarged) over the photo, and the filter grids.
    folder = run / "visualizations"
    with Image.open(folder / "gradcam_overlay.png") as overlay, Image.open(folder / "gradcam_heatmap.png") as heat:
        assert overlay.size == (60, 40) and heat.size == (11 * 20, 11 * 20)
    for layer in ("conv_a", "conv_c"):
        with Image.open(folder / f"filters_{layer}.png") as grid:
            assert grid.size == (2 * 24 + 5, 2 * 24 + 5)
            assert np.asarray(grid).std() > 0
    assert "Grad-CAM of class" in out and "layer conv_c" in out
    # 24x24 -> conv_a, conv_b, add: 8 channels of 24x24; conv_c: 16 of 11x11 (GlobalAveragePooling: none).
    expected = {"01_conv_a": (192, 24), "02_conv_b": (192, 24), "03_add": (192, 24), "04_conv_c": (16 * 11, 11)}
    for name, shape in expected.items():
        with Image.open(folder / f"activations_{name}.png") as grid:
            assert grid.size == shape and np.asarray(grid).std() > 0
    shown = {tag: image[:2] for tag, image in read_images(run / "tensorboard" / "visualize").items()}
    assert shown == {
        "gradcam/heatmap": (220, 220),
        "gradcam/overlay": (60, 40),
        "filters/conv_a": (53, 53),
        "filters/conv_c": (53, 53),
        **{f"activations/{name}": shape for name, shape in expected.items()},
    }

    # Gradient ascent raises each filter's mean activation (a filter the start image leaves dead stays at 0).
    losses = np.array(result["losses"])
    assert losses.shape == (FILTER_STEPS + 1, FILTER_COUNT)
    active = losses[0] > 0
    assert active.sum() >= 2 and np.all(losses[-1][active] > losses[0][active])
    assert np.all(np.diff(losses[:, active], axis=0) > 0)

    # The same heatmap as TensorFlow's for the same saved model and image (float32 kernels differ in rounding).
    import keras

    model = keras.saving.load_model(run / "model.keras")
    batch = preprocess(fit_image(load_image(photo), *input_shape(model))[None], "rescale", "image_preprocess")
    for layer, heatmap in result["heatmaps"].items():
        expected = gradcam_heatmap(model, batch, layer, None)[0]
        assert expected.max() == pytest.approx(1.0) and np.asarray(heatmap).shape == expected.shape
        np.testing.assert_allclose(np.asarray(heatmap), expected, atol=1e-4, err_msg=f"{backend}, {layer}")
    # And the same ascent: from the same start images, the same losses at every step.
    _, expected_losses = generate_patterns(model, "conv_c", list(range(FILTER_COUNT)), size=24, steps=FILTER_STEPS)
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-4, atol=1e-4, err_msg=backend)


def test_the_backend_is_the_runs_own_unless_given(residual_run, tmp_path):
    run, _ = residual_run
    jax_run = tmp_path / "jax_run"
    (jax_run / ".hydra").mkdir(parents=True)
    shutil.copy(run / "model.keras", jax_run / "model.keras")
    (jax_run / ".hydra" / "config.yaml").write_text("name: residual\nseed: 0\nbackend: jax\n")
    assert visualize_backend(compose(f"run={jax_run}")) == "jax"  # trained on JAX: drawn on JAX
    assert visualize_backend(compose(f"run={jax_run}", "backend=torch")) == "torch"
    assert visualize_backend(compose(f"run={run}")) == "tensorflow"
    (jax_run / ".hydra" / "config.yaml").write_text("name: residual\nseed: 0\n")  # a run from before backends
    assert visualize_backend(compose(f"run={jax_run}")) == "tensorflow"
    assert visualize_backend(compose("model={_target_: keras.applications.VGG16, weights: null}")) == "tensorflow"


def test_an_unknown_backend_is_one_clear_paragraph(residual_run, tmp_path, capsys):
    run, _ = residual_run
    files = sorted(run.rglob("*"))
    with pytest.raises(SystemExit) as exit_info:
        visualize(compose(f"run={run}", "backend=mxnet", f"paths.run_dir={tmp_path}"))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("dlbook: error: backend=mxnet is not valid: choose one of tensorflow, jax, torch")
    assert sorted(run.rglob("*")) == files  # nothing drawn, nothing written into the run


def read_images(log_dir) -> dict[str, tuple[int, int, np.ndarray, str]]:
    """{tag: (width, height, pixels, plugin)} of the image summaries in a folder, read back as TensorBoard does."""
    import io

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(log_dir), size_guidance={"tensors": 0})
    accumulator.Reload()
    images = {}
    for tag in accumulator.Tags()["tensors"]:
        width, height, png = accumulator.Tensors(tag)[0].tensor_proto.string_val
        plugin = accumulator.SummaryMetadata(tag).plugin_data.plugin_name
        images[tag] = (int(width), int(height), np.asarray(Image.open(io.BytesIO(png))), plugin)
    return images


def test_tensorboard_images_without_tensorflow_are_the_ones_tensorflow_writes(tmp_path, monkeypatch):
    from dlbook import frameworks
    from dlbook.visualization.images import write_tensorboard

    rng = np.random.default_rng(0)
    images = {"gradcam/overlay": rng.integers(0, 255, (20, 30, 3), dtype=np.uint8), "gray": np.full((5, 7), 9, "uint8")}
    write_tensorboard(images, tmp_path / "tensorflow")
    monkeypatch.setattr(frameworks, "tensorflow_available", lambda: False)  # as where TensorFlow is not installed
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # importing it would fail
    write_tensorboard(images, tmp_path / "tensorboard")
    written, expected = read_images(tmp_path / "tensorboard"), read_images(tmp_path / "tensorflow")
    assert set(written) == set(expected) == set(images)
    for tag, (width, height, pixels, plugin) in written.items():
        assert (width, height, plugin) == (*images[tag].shape[1::-1], "images")
        assert (width, height, plugin) == (expected[tag][0], expected[tag][1], expected[tag][3])
        np.testing.assert_array_equal(pixels, expected[tag][2])
        np.testing.assert_array_equal(pixels, images[tag])
