"""`dlbook reproduce [experiments=[...]] [quick=true]`: run catalogue experiments and tabulate them against the book.

Writes reproduction.md and reproduction.json into Hydra's output folder (dlbook.results.reproduction); with
``results=`` it saves the record there (dlbook.results.reproduction_record) and with ``readme=`` rebuilds
README's catalogue table from the records (dlbook.results.catalog_table).
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, ListConfig

from dlbook.errors import ConfigError, DlbookError
from dlbook.results.reproduction import REPORT_MD, exit_code, run_reproduction, text_table
from dlbook.results.reproduction_record import save_record


def reproduce(cfg: DictConfig) -> int:
    """The Hydra task of `dlbook reproduce`: writes into Hydra's output folder, exits 1 if nothing completed."""
    from hydra.core.hydra_config import HydraConfig

    from dlbook.errors import exit_for_user_error

    folder = Path(HydraConfig.get().runtime.output_dir)
    experiments = cfg.experiments
    if isinstance(experiments, ListConfig):
        experiments = [str(name) for name in experiments]
    overrides = cfg.overrides if cfg.overrides is not None else []
    if isinstance(overrides, str):
        overrides = [overrides]
    readme = cfg.get("readme")
    results = cfg.get("results")
    try:
        quick = cfg.quick
        if not isinstance(quick, bool):
            raise ConfigError(f"quick={quick} is not valid: true or false")
        if readme is not None:
            from dlbook.results.catalog_table import check_readme

            if results is None:
                raise ConfigError(
                    f"readme={readme} needs results=<folder> (e.g. results=docs/results): README's table is rebuilt "
                    "from the reproduction records saved there, never from a single run's folder in outputs/."
                )
            readme = check_readme(readme)  # before hours of runs, not after
        rows = run_reproduction(folder, experiments, quick, list(overrides), cfg.timeout_minutes)
    except DlbookError as error:
        exit_for_user_error(error)
        raise
    print("", flush=True)
    print(text_table(rows), flush=True)
    if quick:
        print("(quick mode: debug settings and offline data; the numbers are not comparable with the book)")
    print(f"\nReport: {folder / REPORT_MD}", flush=True)
    if results is not None:
        print(f"Record saved in {save_record(folder, results)}", flush=True)
    if readme is not None:
        from dlbook.results.catalog_table import update_readme

        update_readme(readme, results)
        print(f"Catalogue table rewritten in {readme} from the records in {results}", flush=True)
    code = exit_code(rows)
    if code:
        raise SystemExit(code)
    return code
