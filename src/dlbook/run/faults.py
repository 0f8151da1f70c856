"""Faults a run survives with a clear record: a loss that turns NaN, SIGINT/SIGTERM, memory or disk running out.

- A NaN or infinite loss stops the fit at that batch (Keras' TerminateOnNaN would finish the epoch and
  save it); the run fails with the epoch and batch in status.json.
- SIGINT (Ctrl-C) and SIGTERM (a scheduler, ``kill``) end the run at the next batch boundary as
  :class:`RunInterrupted`; the run is marked ``interrupted`` with its backup of the last completed
  epoch, and exits with 128 + the signal number.
- Out of memory (host or GPU) and a full disk become one paragraph naming what ran out and where.
"""

from __future__ import annotations

import errno
import math
import signal
import threading
from contextlib import contextmanager

from dlbook.errors import DlbookError


class NonFiniteLoss(DlbookError):
    """The training loss became NaN or infinite."""

    def __init__(self, message: str, fit: str | None = None, epoch: int | None = None, batch: int | None = None):
        super().__init__(message)
        self.fit, self.epoch, self.batch = fit, epoch, batch

    def __reduce__(self):
        # A sweep job's error travels back to the launcher by pickling: keep where it happened.
        return (type(self), (str(self), self.fit, self.epoch, self.batch))


class RunInterrupted(KeyboardInterrupt):
    """The run's process was asked to stop (SIGINT, SIGTERM): not an error of the run."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


class ResourceExhausted(DlbookError):
    """Memory or disk ran out."""


class _StopRequests:
    """SIGINT/SIGTERM received while a fit runs: honoured at the next batch or epoch boundary.

    Raising from the signal handler itself could land in the middle of saving the epoch's backup (weights
    written, epoch number not yet), so inside a fit the handler only records the signal and the fit's
    guard callback raises at a safe point; outside a fit it raises at once.
    """

    def __init__(self) -> None:
        self.fits_running = 0
        self.signal_name: str | None = None

    def raise_if_requested(self) -> None:
        if self.signal_name is not None:
            name, self.signal_name = self.signal_name, None
            raise RunInterrupted(name)


STOP_REQUESTS = _StopRequests()


def nan_guard(phase: str):
    """The fit's guard: NonFiniteLoss at the first NaN or infinite loss; RunInterrupted at a safe point after
    SIGINT/SIGTERM (the next batch, or the start of the next epoch, once the last one's backup is saved)."""
    import keras

    class FitGuard(keras.callbacks.Callback):
        # Keras may run batch-end callbacks in a background thread, so that the next training step does not
        # wait for them (it turns that off for any callback with a batch hook that does not say it is safe).
        # An exception raised here reaches the training loop at the next batch, or before the epoch ends
        # (and before its backup is saved).
        async_safe = True

        def __init__(self) -> None:
            super().__init__()
            self.epoch = 0

        def on_train_begin(self, logs=None):
            STOP_REQUESTS.fits_running += 1

        def on_train_end(self, logs=None):
            STOP_REQUESTS.fits_running -= 1

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            self._stop_if_asked()

        def on_train_batch_end(self, batch, logs=None):
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                epoch, batch_number = self.epoch + 1, batch + 1
                self._leave()
                raise NonFiniteLoss(
                    f"The training loss became {float(loss)} at epoch {epoch}, batch {batch_number} of the fit "
                    f"'{phase}', so training stopped there. The learning rate is usually too high for the data "
                    "(try a smaller optimizer.learning_rate), or the inputs hold NaN or huge values.",
                    fit=phase,
                    epoch=epoch,
                    batch=batch_number,
                )
            self._stop_if_asked()

        def _stop_if_asked(self) -> None:
            if STOP_REQUESTS.signal_name is not None:
                self._leave()
                STOP_REQUESTS.raise_if_requested()

        def _leave(self) -> None:
            STOP_REQUESTS.fits_running = max(0, STOP_REQUESTS.fits_running - 1)

    return FitGuard()


@contextmanager
def graceful_interrupts():
    """Within the block (the main thread of a run), SIGINT and SIGTERM end the run as interrupted.

    During a fit they take effect at the next batch or epoch boundary; elsewhere at once.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signal_number, frame):
        name = signal.Signals(signal_number).name
        if STOP_REQUESTS.fits_running > 0:
            STOP_REQUESTS.signal_name = name
            return
        raise RunInterrupted(name)

    previous = {number: signal.signal(number, stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        STOP_REQUESTS.fits_running, STOP_REQUESTS.signal_name = 0, None


def interrupt_signal(error: BaseException) -> str | None:
    """The signal name when ``error`` is an interruption (Ctrl-C or SIGTERM), else None."""
    if isinstance(error, RunInterrupted):
        return error.signal_name
    if isinstance(error, KeyboardInterrupt):
        return "SIGINT"
    return None


def exit_code(signal_name: str) -> int:
    """The shell's exit status for a process stopped by ``signal_name`` (130 for SIGINT, 143 for SIGTERM)."""
    return 128 + int(signal.Signals[signal_name])


def explain_exhaustion(error: BaseException, run_dir: str) -> ResourceExhausted | None:
    """A clear error when ``error`` is memory or disk running out; None for any other error."""
    if isinstance(error, MemoryError):
        return ResourceExhausted(
            f"The host ran out of memory (RAM) during the run in {run_dir}. Use a smaller trainer.batch_size, a "
            "smaller dataset or model, or fewer parallel jobs (hydra.launcher.cpu_workers); earlier runs are "
            "untouched."
        )
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        where = getattr(error, "filename", None) or run_dir
        return ResourceExhausted(
            f"The disk is full: writing {where} failed ({error.strerror}). Free space there or point "
            "paths.output_dir at another disk; earlier runs are untouched, this run is marked failed."
        )
    device_error = _device_error(error, run_dir)
    if device_error is not None:
        return device_error
    return None


# Messages of cuDNN / cuBLAS failing to start (TensorFlow's stream executor; XLA's, for JAX): on a GPU that
# other processes have filled, these libraries cannot allocate their handles and workspaces.
_LIBRARY_START_FAILURES = (
    (
        "cuDNN",
        (
            "DNN library initialization failed",
            "Could not create cudnn handle",
            "CUDNN_STATUS_NOT_INITIALIZED",
            "CUDNN_STATUS_ALLOC_FAILED",
            "cuDNN failed to initialize",
            "Failed to get convolution algorithm",
            "DNN library is not found",
        ),
    ),
    (
        "cuBLAS",
        (
            "failed to create cublas handle",
            "CUBLAS_STATUS_NOT_INITIALIZED",
            "CUBLAS_STATUS_ALLOC_FAILED",
            "without BLAS support",
            "Blas GEMM launch failed",
            "Blas xGEMM launch failed",
        ),
    ),
)


def _framework_errors() -> tuple[type, type] | None:
    """TensorFlow's (ResourceExhaustedError, OpError) if TensorFlow is loaded (never imported just for this)."""
    import sys

    if "tensorflow" not in sys.modules:
        return None
    import tensorflow as tf

    return tf.errors.ResourceExhaustedError, tf.errors.OpError


def _device_error(error: BaseException, run_dir: str) -> ResourceExhausted | None:
    """The explanation of a GPU running out of memory, or of cuDNN / cuBLAS failing to start, else None."""
    import os

    classes = _framework_errors()
    if classes is None:
        return None
    exhausted, op_error = classes
    text = str(getattr(error, "message", None) or error).strip()
    first_line = text.splitlines()[0][:300] if text else type(error).__name__
    share = os.environ.get("DLBOOK_GPU_MEMORY_FRACTION")
    packed = (
        f" This job was given {float(share):.0%} of its GPU's memory (it shares the GPU with other jobs): use "
        "fewer hydra.launcher.jobs_per_gpu, or a larger hydra.launcher.gpu_memory_fraction."
        if share
        else " If other jobs share the GPU, use fewer hydra.launcher.jobs_per_gpu."
    )
    if isinstance(error, exhausted):
        # TensorFlow names the allocator: "... on /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc".
        on_gpu = "GPU" in text
        where = "A GPU" if on_gpu else "The host (TensorFlow's CPU allocator)" if "CPU" in text else "A device"
        return ResourceExhausted(
            f"{where} ran out of memory during the run in {run_dir} ({type(error).__name__}: {first_line}). Use a "
            f"smaller trainer.batch_size or model{', or trainer.mixed_precision=mixed_float16' if on_gpu else ''}; "
            "earlier runs are untouched." + (packed if on_gpu else "")
        )
    if isinstance(error, op_error):
        for library, markers in _LIBRARY_START_FAILURES:
            if any(marker.lower() in text.lower() for marker in markers):
                return ResourceExhausted(
                    f"{library} could not start on the GPU ({type(error).__name__}: {first_line}). This usually "
                    f"means the GPU's memory was already taken (by other processes: see nvidia-smi), or the "
                    f"installed {library} does not match TensorFlow's CUDA (pip install 'dlbook[gpu]' installs "
                    "matching libraries)." + packed
                )
    return None
