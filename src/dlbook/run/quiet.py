"""A quiet terminal: TensorFlow's native start-up notices kept off stderr unless the user asks for them.

Importing TensorFlow prints, from C++ and before absl's logging is initialised (so ``TF_CPP_MIN_LOG_LEVEL``
does not reach them), the same block twice (once per shared library that carries TensorFlow's
platform code): absl's "All log messages before absl::InitializeLog() ..." line, oneDNN's "custom
operations are on" notice and "Could not find cuda drivers"; the first device query then logs XLA's
"failed call to cuInit" error on a machine without a GPU. None of them is actionable: the GPU check
(:mod:`dlbook.run.runtime`) reports a missing GPU in its own words when the run was given one.

So dlbook (1) sets ``TF_CPP_MIN_LOG_LEVEL=2`` before TensorFlow is imported, in the CLI and therefore in
the launcher's job processes, which inherit its environment; and (2) imports the framework and lists its
devices with file descriptor 2 sent to a temporary file, then writes back every line that is not one of
the known notices above: anything else TensorFlow says while starting (a real warning, a Python
warning) still reaches the terminal. Only that start-up is filtered; training output is untouched.

``DLBOOK_VERBOSE=1`` or ``hydra.verbose=true`` on the command line shows everything (neither is done).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import contextmanager

VERBOSE_VARIABLE = "DLBOOK_VERBOSE"

# absl's native log lines: severity letter, MMDD, time, thread id, file:line] message.
_NATIVE_LINE = r"[IWE]\d{4} [\d:.]+\s+\d+ "
# The start-up notices filtered out, each by the source file that logs it and its wording.
NOISE = re.compile(
    "|".join(
        (
            r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR",
            _NATIVE_LINE + r"port\.cc:\d+\] oneDNN custom operations are on",
            _NATIVE_LINE + r"cudart_stub\.cc:\d+\] Could not find cuda drivers",
            _NATIVE_LINE + r"cuda_platform\.cc:\d+\] failed call to cuInit",
            _NATIVE_LINE + r"cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized",
            r"To enable the following instructions: .* in other operations, rebuild TensorFlow",
        )
    )
)


def verbose_requested(arguments: Sequence[str] = (), environment: MutableMapping[str, str] | None = None) -> bool:
    """Whether the user asked for everything: ``DLBOOK_VERBOSE=1`` or a ``hydra.verbose`` override that is set."""
    environment = os.environ if environment is None else environment
    if environment.get(VERBOSE_VARIABLE, "").strip().lower() in ("1", "true", "yes"):
        return True
    for argument in arguments:
        key, _, value = argument.partition("=")
        if key.lstrip("+~") == "hydra.verbose" and value.strip().lower() not in ("", "false", "null", "[]"):
            return True
    return False


def quiet_environment(arguments: Sequence[str] = (), environment: MutableMapping[str, str] | None = None) -> None:
    """Set the environment TensorFlow reads at import (before it is imported), or mark the process verbose.

    The launcher's job processes inherit it, so a sweep's jobs start as quietly (or as verbosely) as the command.
    A ``TF_CPP_MIN_LOG_LEVEL`` the user set is kept.
    """
    environment = os.environ if environment is None else environment
    if verbose_requested(arguments, environment):
        environment[VERBOSE_VARIABLE] = "1"
        return
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def is_noise(line: str) -> bool:
    """Whether a line of stderr is one of TensorFlow's start-up notices that dlbook hides."""
    return NOISE.match(line.strip()) is not None


@contextmanager
def filtered_stderr() -> Iterator[None]:
    """Within the block, file descriptor 2 goes to a temporary file; afterwards its lines that are not
    start-up noise are written to the real stderr. A no-op when the user asked for verbose output."""
    if verbose_requested():
        yield
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no file descriptor 2 (a daemon, a closed stderr): nothing to filter
        yield
        return
    # A file, not a pipe: nothing has to read while TensorFlow writes, so no write can block.
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines(True) if not is_noise(line)]
            if kept:
                os.write(2, "".join(kept).encode())


_started = False


def start_framework() -> None:
    """Import Keras (and TensorFlow where installed) and list TensorFlow's devices, with the start-up noise
    filtered (:func:`filtered_stderr`). Later imports and device queries print nothing more; calling it
    again does nothing."""
    global _started
    if _started:
        return
    with filtered_stderr():
        import keras  # noqa: F401  (the backend's own start-up)

        try:
            import tensorflow as tf
        except ImportError:  # a JAX or PyTorch install without TensorFlow
            tf = None
        if tf is not None:
            tf.config.list_physical_devices()  # XLA's cuInit attempt happens here, once per process
    _started = True
