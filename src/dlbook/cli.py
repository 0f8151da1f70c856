"""The `dlbook` command: `dlbook train [overrides]`, `dlbook evaluate run=<dir> [overrides]`.

Everything after the sub-command goes to Hydra unchanged (-m, --cfg job, --help, --info, -c ...).
`dlbook --help` answers from the catalogue files alone: it imports neither Hydra nor TensorFlow.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dlbook import __version__

COMMANDS = {
    "train": "train an experiment (default: boston_housing, offline) and write a run directory",
    "evaluate": "reload a run's model.keras and evaluate it on the test split: evaluate run=<run dir>",
    "visualize": "draw what a convnet learned (book 5.4): visualize run=<run dir> method=activations|filters|gradcam",
    "ensemble": "average finished runs' predictions (book 7.3.3): ensemble runs=[<run dir>,<run dir>] [weights=[...]]",
    "generate": "write text with a trained text-generation run (book 8.1): generate run=<run dir> [temperature=0.5]",
    "reproduce": "run catalogue experiments, write reproduction.md: reproduce [experiments=[imdb]] [quick=true]",
    "summarize": "rebuild a sweep's summary.csv, summary.md and val_loss.png: summarize <sweep dir>",
    "runs": "every run in one table: runs [outputs] [experiment=imdb] [status=failed] [tag=x] [sort=test.accuracy]",
}


def overview() -> str:
    """The text of `dlbook --help`: sub-commands and the catalogue with book sections."""
    from dlbook.config.catalog import catalog

    lines = [
        f"dlbook {__version__}: Keras experiments from Deep Learning with Python (1st ed.), driven by Hydra configs.",
        "",
        "Usage: dlbook <command> [key=value ...] [Hydra flags: -m, --cfg job, --help, --info, -c]",
        "",
        "Commands:",
    ]
    lines += [f"  {name:<9} {text}" for name, text in COMMANDS.items()]
    lines += ["", "Experiments (dlbook train experiment=<name>):"]
    entries = catalog()
    width = max((len(entry.name) for entry in entries), default=10)
    for entry in entries:
        reference = f"  [book: {entry.metric} {entry.book_value}]" if entry.book_value is not None else ""
        lines.append(f"  {entry.name:<{width}}  {entry.section:<5} {entry.title}{reference}")
    lines += [
        "",
        "Examples:",
        "  dlbook train                                   # Boston housing (3.7), offline, on bundled data",
        "  dlbook train experiment=imdb trainer.epochs=8",
        "  dlbook train -m experiment=imdb model.units=16,32,64 seed=0,1,2",
        "  dlbook train dataset=named_arrays dataset.path=my.npz model=...   # your own data: experiment=custom",
        "  dlbook train --help                            # config groups and the composed config",
        "  dlbook evaluate run=outputs/imdb/2026-11-26_16-02-11_123456",
        "  dlbook visualize run=outputs/cats_vs_dogs_augmented/<timestamp> method=activations",
        "  dlbook generate run=outputs/text_generation/<timestamp> temperature=0.5",
        "  dlbook summarize outputs/multirun/imdb_overfitting/<timestamp>   # a sweep's table and val_loss.png",
        "  dlbook runs experiment=imdb sort=test.accuracy limit=10       # every run in one table",
        "  dlbook runs diff outputs/imdb/<timestamp a> outputs/imdb/<timestamp b>",
    ]
    return "\n".join(lines)


def _check_run_argument(command: str, arguments: list[str]) -> str | None:
    """An error message when `evaluate`, `generate` or `visualize` gets no run directory (before Hydra writes in it)."""
    if any(
        argument in ("--help", "-h", "--hydra-help", "--info") or argument.startswith("--cfg") for argument in arguments
    ):
        return None
    runs = [argument.split("=", 1)[1] for argument in arguments if argument.startswith("run=")]
    if not runs:
        if command == "visualize":  # its model may come from keras.applications instead (model=...)
            return None
        return f"dlbook {command} needs a run: dlbook {command} run=<run directory>, e.g. run=outputs/imdb/<timestamp>."
    if command == "visualize" and runs[-1] in ("null", ""):
        return None
    if not Path(runs[-1]).is_dir():
        return (
            f"run={runs[-1]} is not valid: no such directory. "
            "Give a run directory that `dlbook train` printed at its end."
        )
    from dlbook.config.checks import run_directory_problem

    # Checked here, before Hydra opens its log file inside the folder.
    return run_directory_problem(runs[-1])


def _check_ensemble_arguments(arguments: list[str]) -> str | None:
    """An error message when `ensemble` gets no runs to average."""
    if any(
        argument in ("--help", "-h", "--hydra-help", "--info") or argument.startswith("--cfg") for argument in arguments
    ):
        return None
    if not any(argument.startswith("runs=") for argument in arguments):
        return (
            "dlbook ensemble needs the runs to average: dlbook ensemble runs=[<run dir>,<run dir>] "
            "(optionally weights=[0.6,0.4])."
        )
    return None


def user_config_problem() -> str | None:
    """An error message when ``DLBOOK_CONFIG_PATH`` names a folder that does not exist (Hydra would ignore it)."""
    from hydra_plugins.dlbook_experiments.experiment_searchpath import USER_CONFIG_VARIABLE, user_config_dirs

    for folder in user_config_dirs():
        if not folder.is_dir():
            return (
                f"{USER_CONFIG_VARIABLE}={os.environ[USER_CONFIG_VARIABLE]} is not valid: {folder} is not a folder. "
                "Give the folders (separated by ':') that hold your own configs, e.g. a folder with "
                "experiment/my_experiment.yaml, or unset it."
            )
    return None


def run_hydra(command: str, arguments: list[str]) -> None:
    """Hand the arguments to Hydra with the primary config `<command>.yaml` from dlbook's conf/."""
    import hydra

    from dlbook.config.resources import conf_dir

    if command == "train":
        from dlbook.commands.train import train as task_function
    elif command == "evaluate":
        from dlbook.commands.evaluate import evaluate as task_function
    elif command == "ensemble":
        from dlbook.commands.ensemble import ensemble as task_function
    elif command == "generate":
        from dlbook.commands.generate import generate as task_function
    elif command == "reproduce":
        from dlbook.commands.reproduce import reproduce as task_function
    else:
        # Importing it registers the resolver that names its output folder, before Hydra composes.
        from dlbook.commands.visualize import visualize as task_function
    from dlbook.config.composition import composition_problem

    # Hydra reports a config it cannot compose (unknown key or option) in several lines with status 1.
    problem = composition_problem(command, arguments)
    if problem:
        print(f"dlbook: error: {problem}", file=sys.stderr)
        raise SystemExit(2)
    sys.argv = [f"dlbook {command}", *arguments]
    hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name=command)(task_function)()


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if not arguments or arguments[0] in ("-h", "--help", "help"):
        print(overview())
        return 0
    if arguments[0] in ("-V", "--version"):
        print(f"dlbook {__version__}")
        return 0
    from dlbook.completion import completion_command, completion_request

    if completion_request(arguments[:1] + arguments[1:2]) or completion_request(arguments[1:3]):
        # dlbook [command] -sc install=bash: tab completion of every sub-command (dlbook.completion)
        return completion_command(arguments, list(COMMANDS), run_hydra)
    command, rest = arguments[0], arguments[1:]
    if command not in COMMANDS:
        print(
            f"dlbook: error: unknown command {command!r}; valid commands: {', '.join(COMMANDS)}. See `dlbook --help`.",
            file=sys.stderr,
        )
        return 2
    if command == "summarize":
        from dlbook.commands.summarize import summarize_command

        return summarize_command(rest)
    if command == "runs":
        from dlbook.commands.runs import runs_command

        return runs_command(rest)
    if command in ("evaluate", "generate", "visualize", "ensemble"):
        problem = _check_ensemble_arguments(rest) if command == "ensemble" else _check_run_argument(command, rest)
        if problem:
            print(f"dlbook: error: {problem}", file=sys.stderr)
            return 2
    if command == "train":
        from dlbook.config.adhoc import with_custom_base
        from dlbook.errors import DlbookError
        from dlbook.run.resume import resume_arguments
        from dlbook.run.run_lock import hold_resumed

        problem = user_config_problem()
        if problem:
            print(f"dlbook: error: {problem}", file=sys.stderr)
            return 2
        rest = with_custom_base(rest)  # dataset=/model= without experiment=: experiment=custom (dlbook.config.adhoc)
        try:
            rest = resume_arguments(rest)  # resume=<dir>: the run's (or sweep's) own overrides, in its directory
            hold_resumed(rest)  # one process at a time in that directory, from before Hydra writes in it
        except DlbookError as error:
            print(f"dlbook: error: {error}", file=sys.stderr)
            return 2
    from dlbook.run.quiet import quiet_environment

    quiet_environment(rest)  # before TensorFlow is imported here or in the launcher's job processes
    run_hydra(command, rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
