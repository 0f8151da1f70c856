"""Errors that dlbook reports to the user as one clear paragraph, without a traceback."""


class DlbookError(Exception):
    """A problem the user can fix (bad input, missing data). The message says how."""


class ConfigError(DlbookError):
    """A configuration value is invalid: the message names the key, the value and what is valid."""


class DatasetUnavailableError(DlbookError):
    """A dataset file cannot be found locally nor downloaded."""


class DatasetFormatError(DlbookError):
    """A dataset file exists but does not have the expected content."""


def find_user_error(error: BaseException | None) -> DlbookError | None:
    """The DlbookError behind ``error``, also when Hydra's instantiate wrapped it in its own exception."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, DlbookError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def exit_for_user_error(error: BaseException) -> None:
    """In a single run, print a DlbookError as one paragraph and exit with status 2 (no traceback).

    Other errors, and every error inside a multirun (the launcher records each job's failure),
    are left to propagate: the caller re-raises.
    """
    import sys

    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    user_error = find_user_error(error)
    if user_error is None:
        return
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        return
    print(f"dlbook: error: {user_error}", file=sys.stderr)
    raise SystemExit(2)
