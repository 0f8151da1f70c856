"""Tab completion of ``dlbook <command> key=<TAB>`` in bash and zsh, through Hydra's completion plugins.

Hydra completes one app's config groups, options and keys from the shell's ``COMP_LINE``
(``-sc query=bash``). dlbook is several Hydra apps behind one command, so it answers the shell itself:

- ``dlbook -sc install=bash`` (or ``dlbook train -sc install=bash``) prints Hydra's bash completion
  script, registered for ``dlbook``; ``install=zsh`` prints the same behind zsh's ``bashcompinit``
  (Hydra's zsh plugin also delegates to its bash one). ``eval "$(dlbook -sc install=bash)"`` in
  ``~/.bashrc`` installs it.
- That script calls ``dlbook -sc query=bash`` with ``COMP_LINE`` set: while the sub-command is being
  typed, dlbook offers its sub-commands; after it, the line without the sub-command goes to Hydra's
  own query for that sub-command's primary config (``train.yaml`` with the experiment catalogue, ...).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

APP = "dlbook"
SHELLS = ("bash", "zsh")
# Sub-commands whose arguments are Hydra overrides (the others take paths: the shell completes files).
HYDRA_COMMANDS = ("train", "evaluate", "visualize", "ensemble", "generate", "reproduce")


def completion_request(arguments: Sequence[str]) -> tuple[str, str] | None:
    """``("install" | "uninstall" | "query", shell)`` for ``-sc <action>=<shell>`` anywhere in ``arguments``."""
    for index, argument in enumerate(arguments):
        if argument in ("-sc", "--shell-completion") and index + 1 < len(arguments):
            action, _, shell = arguments[index + 1].partition("=")
            return action, shell
        if argument.startswith("--shell-completion="):
            action, _, shell = argument.split("=", 1)[1].partition("=")
            return action, shell
    return None


def install_script(shell: str) -> str:
    """The shell code that makes ``dlbook`` complete (Hydra's bash script, for the ``dlbook`` command)."""
    import contextlib
    import io

    from hydra._internal.core_plugins.bash_completion import BashCompletion

    saved = sys.argv[0]
    sys.argv[0] = APP  # Hydra registers the completion for basename(argv[0]), and calls it back by that name
    try:
        with contextlib.redirect_stdout(io.StringIO()) as script:
            BashCompletion.__new__(BashCompletion).install()  # install() reads no config: no loader needed
    finally:
        sys.argv[0] = saved
    prefix = "autoload -Uz bashcompinit && bashcompinit\n" if shell == "zsh" else ""
    return prefix + script.getvalue()


def query(commands: Sequence[str], run_hydra: Callable[[str, list[str]], None]) -> None:
    """Print the completions of the shell's ``COMP_LINE`` (``dlbook <command> <partial word>``)."""
    from hydra.plugins.completion_plugin import CompletionPlugin

    line = CompletionPlugin.strip_python_or_app_name(os.environ.get("COMP_LINE", APP))
    words = line.split()
    if not words or (len(words) == 1 and not line.endswith(" ")):
        typed = words[0] if words else ""
        print(" ".join(command for command in commands if command.startswith(typed)))
        return
    command = words[0]
    if command not in HYDRA_COMMANDS:
        return  # paths (dlbook summarize <sweep dir>, dlbook runs ...): the shell's own file completion
    # Hydra's query strips the first word (the app) and completes the rest, as for a one-app command.
    os.environ["COMP_LINE"] = f"{APP} {line.split(command, 1)[1].lstrip()}"
    run_hydra(command, ["-sc", "query=bash"])


def completion_command(arguments: Sequence[str], commands: Sequence[str], run_hydra) -> int:
    """``dlbook [command] -sc install|uninstall|query=bash|zsh``; the exit status."""
    request = completion_request(arguments)
    assert request is not None
    action, shell = request
    if shell not in SHELLS or action not in ("install", "uninstall", "query"):
        print(
            f"dlbook: error: -sc {action}={shell} is not valid: use -sc install=bash or -sc install=zsh "
            '(e.g. eval "$(dlbook -sc install=bash)" in ~/.bashrc), or uninstall=<shell>.',
            file=sys.stderr,
        )
        return 2
    if action == "install":
        print(install_script(shell), end="")
    elif action == "uninstall":
        print(f"complete -r {APP} 2> /dev/null; unset -f hydra_bash_completion")
    else:
        query(commands, run_hydra)
    return 0
