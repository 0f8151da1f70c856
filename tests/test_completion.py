"""Tab completion of `dlbook <command> key=<TAB>` in bash and zsh, driven as the shell drives it."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import DLBOOK

from dlbook.config.catalog import catalog

README = Path(__file__).resolve().parents[1] / "README.md"
BASH_INSTALL = 'eval "$(dlbook -sc install=bash)"'
ZSH_INSTALL = 'eval "$(dlbook -sc install=zsh)"'


@pytest.fixture
def shell_environment(tmp_path) -> dict[str, str]:
    """A PATH whose `dlbook` is this checkout's (as the installed console script would be)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "dlbook"
    script.write_text(f'#!/bin/sh\nexec {sys.executable} -m dlbook "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def _bash_complete(line: str, environment: dict[str, str], cwd: Path) -> list[str]:
    """COMPREPLY for the command line ``line`` (cursor at its end), after the README's install line."""
    script = f"""
{BASH_INSTALL}
COMP_LINE={line!r}; COMP_POINT=${{#COMP_LINE}}
COMP_WORDS=($COMP_LINE); [[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
$(complete -p dlbook | sed -e 's/.*-F \\([^ ]*\\) dlbook/\\1/')
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    result = subprocess.run(["bash", "-c", script], env=environment, cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return [word for word in result.stdout.splitlines() if word]


def test_the_readme_gives_the_install_lines():
    text = README.read_text(encoding="utf-8")
    assert BASH_INSTALL in text and ZSH_INSTALL in text


def test_bash_completes_experiments_groups_keys_and_commands(shell_environment, tmp_path):
    imdb = sorted(f"experiment={entry.name}" for entry in catalog() if entry.name.startswith("imdb"))
    assert len(imdb) > 5
    assert sorted(_bash_complete("dlbook train experiment=imdb", shell_environment, tmp_path)) == imdb
    every = _bash_complete("dlbook train experiment=", shell_environment, tmp_path)
    assert {f"experiment={entry.name}" for entry in catalog()} <= set(every)
    assert _bash_complete("dlbook train trainer.ep", shell_environment, tmp_path) == ["trainer.epochs="]
    assert "optimizer=adam" in _bash_complete("dlbook train optimizer=", shell_environment, tmp_path)
    assert _bash_complete("dlbook tr", shell_environment, tmp_path) == ["train"]
    assert "run=" in _bash_complete("dlbook evaluate r", shell_environment, tmp_path)


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completes_experiments_through_bashcompinit(shell_environment, tmp_path):
    # What zsh's _bash_complete does on <TAB>: COMP_* from the line, then compgen with the registered options.
    script = f"""
autoload -Uz compinit && compinit -u
{ZSH_INSTALL}
words=(dlbook train experiment=imdb_l); CURRENT=3
COMP_LINE="$words"; COMP_POINT=${{#COMP_LINE}}; COMP_WORDS=("${{words[@]}}"); COMP_CWORD=$((CURRENT - 1))
compgen -o nospace -o default -F hydra_bash_completion -- ${{words[CURRENT]}}
"""
    result = subprocess.run(
        ["zsh", "-f", "-c", script], env=shell_environment, cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    expected = sorted(f"experiment={entry.name}" for entry in catalog() if entry.name.startswith("imdb_l"))
    assert sorted(result.stdout.split()) == expected


def test_an_unknown_shell_is_one_paragraph_and_exit_2(tmp_path):
    result = subprocess.run([*DLBOOK, "-sc", "install=fish"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2
    assert "-sc install=fish is not valid" in result.stderr and len(result.stderr.strip().splitlines()) == 1
