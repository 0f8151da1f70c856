"""Errors that dlbook reports to the user as one clear paragraph, without a traceback."""


class DlbookError(Exception):
    """A problem the user can fix (bad input, missing data). The message says how."""


class ConfigError(DlbookError):
    """A configuration value is invalid: the message names the key, the value and what is valid."""


class DatasetUnavailableError(DlbookError):
    """A dataset file cannot be found locally nor downloaded."""


class DatasetFormatError(DlbookError):
    """A dataset file exists but does not have the expected content."""


def exit_for_user_error(error: BaseException) -> None:
    """In a single run, print a DlbookError as one paragraph and exit with status 2 (no traceback).

    Other errors, and every error inside a multirun (the launcher records each job's failure),
    are left to propagate: the caller re-raises.
    """
    import sys

    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not isinstance(error, DlbookError):
        return
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        return
    print(f"dlbook: error: {error}", file=sys.stderr)
    raise SystemExit(2)
