"""How a command ends: the one wrapper around every command's work (completed, pruned, interrupted, failed).

Each command runs its steps inside :func:`outcome`. On success nothing happens here (the command marks its
run completed itself, as its last step). On an exception the wrapper decides, in this order:

- pruned: the Optuna sweeper stopped the trial early; the run is marked ``pruned``, not failed;
- interrupted: SIGINT/SIGTERM (dlbook.run.faults); the run is marked ``interrupted`` and can be resumed;
  outside a sweep the process exits with the signal's status;
- failed: the error is explained (a user error, an exhausted GPU, a bad override ...), the run is marked
  ``failed`` with that explanation, and a user error exits with status 2 and one paragraph instead of a
  traceback (dlbook.errors.exit_for_user_error).

Commands without a run directory of their own (evaluate, visualize, generate, ensemble, reproduce) only get
the last step: the error is logged and a user error exits with status 2.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from dlbook.errors import exit_for_user_error
from dlbook.run.directory import RunDirectory, display_path
from dlbook.run.faults import exit_code, interrupt_signal
from dlbook.run.pruning import find_pruned

log = logging.getLogger("dlbook")

# An explainer returns the error to report (a clearer one) or None when it has nothing to say.
Explainer = Callable[[BaseException], BaseException | None]


@contextmanager
def outcome(
    name: str,
    run: RunDirectory | None = None,
    explainers: Sequence[Explainer] = (),
    on_error: Callable[[BaseException], None] | None = None,
) -> Iterator[None]:
    """Mark ``run`` pruned, interrupted or failed when the body raises, log it, and re-raise (or exit).

    ``name`` labels the log lines and the run's status (the experiment, or the command); ``explainers`` are
    tried in order and the first answer is what the run's status and the log report; ``on_error`` runs
    first (e.g. ending the run's loggers).
    """
    try:
        yield
    except BaseException as error:
        if on_error is not None:
            on_error(error)
        if run is not None:
            pruned = find_pruned(error)
            if pruned is not None:  # the Optuna sweeper stopped this trial early: not a failure
                run.prune(name, getattr(pruned, "epoch", None), str(pruned))
                log.info("%s: %s", name, pruned)
                raise
            signal_name = interrupt_signal(error)
            if signal_name is not None:
                run.interrupt(name, signal_name)
                log.warning(
                    "%s: interrupted (%s); its backup keeps every fit's last completed epoch. Continue it with: "
                    "dlbook train resume=%s",
                    name,
                    signal_name,
                    display_path(run.path),
                )
                if not _in_multirun():
                    raise SystemExit(exit_code(signal_name)) from None
                raise
        problem = next((found for explain in explainers if (found := explain(error)) is not None), None) or error
        if run is not None:
            run.fail(name, problem)
        log.error("%s failed: %s: %s", name, type(problem).__name__, problem)
        exit_for_user_error(problem)
        raise


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
