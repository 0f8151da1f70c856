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
    if _is_tensorflow_out_of_memory(error):
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return ResourceExhausted(
            f"A device ran out of memory during the run in {run_dir} ({first_line[:300]}). Use a smaller "
            "trainer.batch_size or model, hydra.launcher.jobs_per_gpu=1, or trainer.mixed_precision; earlier "
            "runs are untouched."
        )
    return None


def _is_tensorflow_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is TensorFlow's ``tf.errors.ResourceExhaustedError`` (device memory), or a subclass.

    Matched by class and module without importing TensorFlow (a failed run may not have loaded it), so an
    unrelated class that only shares the name is not taken for a device out of memory.
    """
    return any(
        cls.__name__ == "ResourceExhaustedError" and cls.__module__.startswith("tensorflow.")
        for cls in type(error).__mro__
    )
