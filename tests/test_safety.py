"""Nothing a file holds runs as code, archives write only inside their folder, bad downloads are kept aside.

Models load in Keras safe mode (a Lambda layer needs an explicit ``unsafe_load=true``), pickled
dataset arrays go through a restricted unpickler, tar members leading out of their folder are refused,
downloads use https unless the user gives the origin, and every server binds the loopback only.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml
from cli_runner import read, run_dirs, run_dlbook
from composing import compose_train_config
from fake_text import write_aclimdb_tar
from fakes import serve_directory, write_imdb_npz
from omegaconf import OmegaConf

from dlbook.datasets import cifar10, imdb_text
from dlbook.datasets.io.archives import UnsafeArchiveError, check_tar_member
from dlbook.datasets.io.download import cache_path
from dlbook.datasets.io.examples import DataSplits, Examples
from dlbook.errors import ConfigError, DatasetFormatError, DlbookError
from dlbook.run.trainer import Trainer, load_run_model

ROOT = Path(__file__).parent.parent


def _lambda_model(features: int = 13):
    """A compiled regression model with a Lambda layer of a Python lambda (code stored in the file)."""
    inputs = keras.Input((features,))
    doubled = keras.layers.Lambda(lambda tensor: tensor * 2.0)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(doubled))
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    return model


@pytest.fixture
def lambda_run(tmp_path):
    run_dir = tmp_path / "lambda_run"
    run_dir.mkdir()
    _lambda_model().save(run_dir / "model.keras")
    return run_dir


# 1. Models: Keras safe mode, unsafe_load as the explicit way out.


def test_a_lambda_model_is_refused_unless_unsafe_load(lambda_run):
    with pytest.raises(DlbookError) as raised:
        load_run_model(str(lambda_run))
    message = str(raised.value)
    assert "\n" not in message
    assert str(lambda_run / "model.keras") in message
    assert "Lambda" in message and "trainer.unsafe_load=true" in message

    with pytest.raises(DlbookError, match=r"unsafe_load=true") as raised:
        load_run_model(str(lambda_run), run_key="run", unsafe_key="unsafe_load")
    assert "trainer.unsafe_load" not in str(raised.value)

    model = load_run_model(str(lambda_run), unsafe_load=True)
    features = np.ones((2, 13), dtype=np.float32)
    np.testing.assert_allclose(model.predict(features, verbose=0), model.layers[-1](features * 2.0).numpy(), rtol=1e-6)


def test_unsafe_load_must_be_true_or_false(lambda_run):
    with pytest.raises(ConfigError, match=r"unsafe_load='yes' is not valid: false .* or true"):
        load_run_model(str(lambda_run), unsafe_load="yes", unsafe_key="unsafe_load")


def test_trainer_init_from_passes_trainer_unsafe_load(lambda_run, tmp_path):
    examples = Examples(np.zeros((4, 13), np.float32), np.zeros(4, np.float32))
    data = DataSplits(train=examples, test=examples, input_shape=(13,), source="test")
    cfg = compose_train_config(f"trainer.init_from={lambda_run}", f"hydra.run.dir={tmp_path}")
    assert cfg.trainer.unsafe_load is False
    with pytest.raises(DlbookError, match=r"trainer.unsafe_load=true"):
        Trainer(cfg, data).new_model()
    OmegaConf.update(cfg, "trainer.unsafe_load", True)
    model = Trainer(cfg, data).new_model()
    assert any(isinstance(layer, keras.layers.Lambda) for layer in model.layers)


def test_the_commands_that_load_runs_have_unsafe_load_off_by_default():
    for name in ("evaluate", "ensemble", "generate", "visualize"):
        assert OmegaConf.load(ROOT / "conf" / f"{name}.yaml").unsafe_load is False, name
    assert OmegaConf.load(ROOT / "conf" / "trainer" / "default.yaml").unsafe_load is False


def test_dlbooks_own_models_load_in_safe_mode_in_a_fresh_process(tmp_path):
    # dlbook's classes are registered on first use: a new process (dlbook evaluate) must still find them.
    from dlbook.models.baselines import build_last_value
    from dlbook.models.dcgan import dcgan_class
    from dlbook.models.vae import build_vae

    latent = keras.Input((2,))
    generator = keras.Model(latent, keras.layers.Reshape((4, 4, 3))(keras.layers.Dense(48)(latent)))
    image = keras.Input((4, 4, 3))
    discriminator = keras.Model(image, keras.layers.Dense(1, "sigmoid")(keras.layers.Flatten()(image)))
    models = {
        "VAE": build_vae((28, 28, 1)),
        "DCGAN": dcgan_class()(generator, discriminator),
        "Sequential": build_last_value((10, 3), feature_index=2),
    }
    for name, model in models.items():
        model.compile(optimizer="rmsprop", loss=None if name != "Sequential" else "mae")
        (tmp_path / name).mkdir()
        model.save(tmp_path / name / "model.keras")

    script = textwrap.dedent(
        """
        import sys
        from dlbook.run.trainer import load_run_model
        print(" ".join(type(load_run_model(run)).__name__ for run in sys.argv[1:]))
        """
    )
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", script, *(str(tmp_path / name) for name in models)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == list(models)


def test_evaluate_refuses_a_lambda_model_unless_unsafe_load(tmp_path):
    # A run of the default experiment whose model.keras is replaced by one with a Lambda layer.
    # (Its own model loads in safe mode: tests/commands/test_evaluate.py evaluates catalogue runs.)
    assert run_dlbook("train", "debug=fast", cwd=tmp_path).returncode == 0
    (run_dir,) = run_dirs(tmp_path / "outputs", "boston_housing")
    _lambda_model().save(run_dir / "model.keras")
    refused = run_dlbook("evaluate", f"run={run_dir}", cwd=tmp_path)
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
    assert f"{run_dir / 'model.keras'} was not loaded" in refused.stderr
    assert "unsafe_load=true" in refused.stderr
    assert not (run_dir / "eval_metrics.json").exists()

    allowed = run_dlbook("evaluate", f"run={run_dir}", "unsafe_load=true", cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stderr[-3000:]
    assert "mae" in read(run_dir / "eval_metrics.json")["test"]


# 2. Pickled dataset arrays: only NumPy array reconstruction.


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_an_imdb_file_whose_pickle_runs_code_is_refused_and_the_code_never_runs(tmp_path):
    marker = tmp_path / "payload-ran"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False, "shape": (1,)})
    evil = tmp_path / "imdb.npz"
    good = np.load(write_imdb_npz(tmp_path / "good.npz", n_train=8, n_test=4), allow_pickle=True)
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("x_train.npy", header.getvalue() + pickle.dumps(_Payload(marker), protocol=3))
        for key in ("y_train", "x_test", "y_test"):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, good[key], allow_pickle=True)
            archive.writestr(f"{key}.npy", buffer.getvalue())

    result = run_dlbook("train", "experiment=imdb", "debug=fast", f"dataset.path={evil}", cwd=tmp_path)
    assert result.returncode == 2
    assert "refusing to unpickle posix.system" in result.stderr or "refusing to unpickle nt.system" in result.stderr
    assert str(evil) in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists()
    (run_dir,) = run_dirs(tmp_path / "outputs", "imdb")
    assert read(run_dir / "status.json")["status"] == "failed"


# 3. Origins: https in the catalogue; plain http only when the user gives the URL.


def _origins(node, where):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "origin" and value is not None:
                yield where, value
            yield from _origins(value, where)
    elif isinstance(node, list):
        for value in node:
            yield from _origins(value, where)


def test_every_catalogue_origin_is_https():
    origins = []
    for file in sorted([*ROOT.joinpath("conf").rglob("*.yaml"), *ROOT.joinpath("experiments").rglob("*.yaml")]):
        origins += _origins(yaml.safe_load(file.read_text()), file.relative_to(ROOT).as_posix())
    for module in sorted(ROOT.joinpath("src", "dlbook", "datasets").glob("*.py")):
        origins += [(module.name, url) for url in re.findall(r'^ORIGIN = "([^"]+)"', module.read_text(), re.M)]
    assert len(origins) >= 10
    assert [(where, url) for where, url in origins if not str(url).startswith("https://")] == []


def test_a_corrupt_cached_file_is_moved_aside_and_downloaded_once_by_a_run(tmp_path):
    served = tmp_path / "server"
    served.mkdir()
    digest = hashlib.sha256(write_imdb_npz(served / "imdb.npz", n_train=40, n_test=20).read_bytes()).hexdigest()
    cached = tmp_path / "keras_home" / "datasets" / "imdb.npz"  # run_dlbook's KERAS_HOME
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"half a downl")
    with serve_directory(served) as (url, requests):
        # The local server is plain http: allowed because the user gives the origin on the command line.
        result = run_dlbook(
            "train",
            "experiment=imdb",
            "debug=fast",
            "task.validation.size=10",
            f"dataset.origin={url}/imdb.npz",
            f"dataset.file_hash={digest}",
            cwd=tmp_path,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    assert requests == ["/imdb.npz"]
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == digest
    (aside,) = cached.parent.glob("imdb.npz.corrupt-*")
    assert aside.read_bytes() == b"half a downl"
    (run_dir,) = run_dirs(tmp_path / "outputs", "imdb")
    assert read(run_dir / "status.json")["status"] == "completed"


# 4. Archives: nothing written outside the extraction folder; damaged archives named.


def _member(name: str, payload: bytes = b"", kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.size = len(payload) if kind == tarfile.REGTYPE else 0
    return info, io.BytesIO(payload) if kind == tarfile.REGTYPE else None


def _aclimdb_with(path: Path, *extra: tuple) -> Path:
    """A small aclImdb_v1.tar.gz (real reviews layout) with ``extra`` members appended."""
    write_aclimdb_tar(path, per_class=3, seed=0)
    with tarfile.open(path, "r:gz") as source:
        members = [(member, io.BytesIO(source.extractfile(member).read())) for member in source if member.isfile()]
    with tarfile.open(path, "w:gz") as archive:
        for info, payload in [*members, *extra]:
            archive.addfile(info, payload)
    return path


UNSAFE_MEMBERS = {
    "parent": _member("../evil", b"escaped"),
    "absolute": _member("/tmp/dlbook-evil", b"escaped"),
    "symlink out": _member("aclImdb/train/pos/evil.txt", kind=tarfile.SYMTYPE, linkname="../../../../evil"),
    "absolute symlink": _member("aclImdb/evil", kind=tarfile.SYMTYPE, linkname="/etc/passwd"),
    "hard link out": _member("aclImdb/train/neg/evil.txt", kind=tarfile.LNKTYPE, linkname="../evil"),
    "device": _member("aclImdb/dev", kind=tarfile.CHRTYPE),
}


@pytest.mark.parametrize("kind", sorted(UNSAFE_MEMBERS))
def test_an_archive_member_leading_out_of_its_folder_is_refused(kind, tmp_path, keras_home):
    served = tmp_path / "server"
    served.mkdir()
    _aclimdb_with(served / "aclImdb_v1.tar.gz", UNSAFE_MEMBERS[kind])
    with serve_directory(served) as (url, _):
        with pytest.raises(UnsafeArchiveError) as raised:
            imdb_text.load(origin=f"{url}/aclImdb_v1.tar.gz", file_hash=None, training_samples=2, validation_samples=2)
    assert isinstance(raised.value, DatasetFormatError)
    message = str(raised.value)
    assert "unsafe path" in message and str(cache_path("aclImdb_v1.tar.gz")) in message and "\n" not in message
    # Only the downloaded archive is there: no extraction, no temporary folder, nothing beside or above.
    assert sorted(path.name for path in keras_home.rglob("*")) == ["aclImdb_v1.tar.gz", "datasets"]
    assert not Path("/tmp/dlbook-evil").exists()


@pytest.mark.parametrize("data_filter", ["tarfile's", "written out (older Pythons)"])
def test_member_checks_with_and_without_tarfiles_data_filter(data_filter, monkeypatch, tmp_path):
    if data_filter != "tarfile's":
        monkeypatch.delattr(tarfile, "data_filter")
    archive, destination = tmp_path / "a.tar.gz", tmp_path / "destination"
    for info, _ in UNSAFE_MEMBERS.values():
        with pytest.raises(UnsafeArchiveError, match=re.escape(repr(info.name))):
            check_tar_member(info, archive, destination)
    safe = [
        _member("aclImdb/train/pos/0_9.txt", b"good")[0],
        _member("aclImdb/train", kind=tarfile.DIRTYPE)[0],
        _member("aclImdb/train/pos/link.txt", kind=tarfile.SYMTYPE, linkname="../neg/0_1.txt")[0],
    ]
    for info in safe:
        check_tar_member(info, archive, destination)


def test_a_truncated_archive_without_hash_is_named_with_the_way_out(tmp_path, keras_home):
    archive = write_aclimdb_tar(tmp_path / "aclImdb_v1.tar.gz", per_class=20, seed=0)
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(DatasetFormatError) as raised:
        imdb_text.load(path=str(archive), training_samples=2, validation_samples=2)
    message = str(raised.value)
    assert str(archive) in message and "truncated" in message and "Delete it" in message
    assert not (keras_home / "datasets" / "aclImdb").exists()

    cifar = tmp_path / "cifar-10-python.tar.gz"
    from fakes import write_cifar_archive

    write_cifar_archive(cifar)
    cifar.write_bytes(cifar.read_bytes()[: cifar.stat().st_size // 2])
    with pytest.raises(DatasetFormatError, match=r"truncated.*Delete it and download it again") as raised:
        cifar10.load(path=str(cifar), file_hash=None)
    assert str(cifar) in str(raised.value)


# 6. Servers: loopback only.


def test_servers_bind_the_loopback_only():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"tensorboard --logdir \S+ --host 127\.0\.0\.1 ", makefile)
    with serve_directory(ROOT / "conf") as (url, _):
        assert url.startswith("http://127.0.0.1:")
    # A server on every interface: the wildcard address, TensorBoard's --bind_all, or an empty host.
    wildcard = re.compile(r"[\"']0\.0\.0\.0[\"']|bind_all|INADDR_ANY|(?:bind|Server)\(\([\"'][\"']")
    sources = [*ROOT.joinpath("src").rglob("*.py"), *ROOT.joinpath("tests").rglob("*.py"), ROOT / "Makefile"]
    offenders = [str(path) for path in sources if path != Path(__file__) and wildcard.search(path.read_text())]
    assert offenders == []
