"""A quiet terminal: TensorFlow's start-up notices are hidden unless the user asks for everything."""

from __future__ import annotations

import os
import subprocess

import pytest
from cli_runner import DLBOOK

from dlbook.run.quiet import filtered_stderr, is_noise, quiet_environment, verbose_requested

# What TensorFlow 2.x prints from C++ when it is imported (twice) and first lists its devices on a CPU machine.
NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796547273.084692   32460 port.cc:153] oneDNN custom operations are on. You may see slightly "
    "different numerical results due to floating-point round-off errors from different computation orders. "
    "To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.",
    "I0000 00:00:1796547273.084961   32460 cudart_stub.cc:31] Could not find cuda drivers on your machine, "
    "GPU will not be used.",
    "E0000 00:00:1796547277.589304   32460 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
    "Failed call to cuInit: UNKNOWN ERROR (303)",
]
MARKERS = ("absl::InitializeLog", "oneDNN custom operations", "Could not find cuda drivers", "cuInit")


def _user_environment(tmp_path, **extra: str) -> dict[str, str]:
    """The environment of a user's shell: no TF_CPP_MIN_LOG_LEVEL of the test runner's own."""
    environment = {
        key: value for key, value in os.environ.items() if key not in ("TF_CPP_MIN_LOG_LEVEL", "DLBOOK_VERBOSE")
    }
    environment["KERAS_HOME"] = str(tmp_path / "keras_home")
    environment.update(extra)
    return environment


def _train(tmp_path, *arguments: str, **environment: str) -> subprocess.CompletedProcess:
    command = [*DLBOOK, "train", "debug=fast", "task.folds=2", "callbacks=none", *arguments]
    return subprocess.run(
        command, cwd=tmp_path, env=_user_environment(tmp_path, **environment), capture_output=True, text=True
    )


def test_dlbook_train_prints_none_of_tensorflows_start_up_notices(tmp_path):
    result = _train(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    for marker in MARKERS:
        assert marker not in result.stderr, result.stderr[:3000]
        assert marker not in result.stdout
    assert "Run directory:" in result.stdout  # dlbook's own lines are still there


@pytest.mark.parametrize("switch", ["DLBOOK_VERBOSE=1", "hydra.verbose=true"])
def test_dlbook_verbose_shows_everything(tmp_path, switch):
    if switch.startswith("DLBOOK_VERBOSE"):
        result = _train(tmp_path, DLBOOK_VERBOSE="1")
    else:
        result = _train(tmp_path, switch)
    assert result.returncode == 0, result.stderr[-3000:]
    # absl writes this line whatever TF_CPP_MIN_LOG_LEVEL is: the native output reached the terminal unfiltered.
    assert "absl::InitializeLog" in result.stderr


def test_verbose_is_asked_by_hydra_verbose_or_the_environment_variable():
    assert not verbose_requested(["debug=fast"], {})
    assert verbose_requested(["hydra.verbose=true"], {})
    assert verbose_requested(["hydra.verbose=[dlbook]"], {})
    assert not verbose_requested(["hydra.verbose=false"], {})
    assert verbose_requested([], {"DLBOOK_VERBOSE": "1"})
    assert not verbose_requested([], {"DLBOOK_VERBOSE": "0"})


def test_quiet_environment_raises_tensorflows_log_level_only_when_quiet():
    quiet = {}
    quiet_environment(["debug=fast"], quiet)
    assert quiet == {"TF_CPP_MIN_LOG_LEVEL": "2"}
    verbose = {}
    quiet_environment(["hydra.verbose=true"], verbose)
    assert verbose == {"DLBOOK_VERBOSE": "1"}  # TensorFlow's own default level: everything; job processes inherit it
    chosen = {"TF_CPP_MIN_LOG_LEVEL": "0"}
    quiet_environment([], chosen)
    assert chosen["TF_CPP_MIN_LOG_LEVEL"] == "0"  # the user's own setting is kept


def test_only_the_known_notices_are_filtered(capfd, monkeypatch):
    monkeypatch.delenv("DLBOOK_VERBOSE", raising=False)
    assert all(is_noise(line) for line in NOISE)
    real = "W0000 00:00:1796547277.5 32460 gpu_device.cc:2341] Cannot dlopen some GPU libraries."
    assert not is_noise(real)
    with filtered_stderr():
        os.write(2, ("\n".join([*NOISE, real, *NOISE]) + "\n").encode())
    assert capfd.readouterr().err == real + "\n"
