"""The README and docs/ say what is true: the config groups they list are conf/'s, their commands compose."""

from __future__ import annotations

import re
import shlex
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cli_runner import run_dlbook
from hydra.core.override_parser.overrides_parser import OverridesParser

from dlbook.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CONFIGURATION = ROOT / "docs" / "configuration.md"
# Sub-commands whose command lines are composed by Hydra (the others take their own arguments).
COMPOSED = ("train", "evaluate")
# A line with one of these is a pattern, not a command to run as it stands.
PLACEHOLDERS = ("<", "...")


def _group_table() -> dict[str, set[str]]:
    """{group: options} from the table between the config-groups markers of docs/configuration.md."""
    text = CONFIGURATION.read_text(encoding="utf-8")
    block = text.split("<!-- config-groups:begin -->", 1)[1].split("<!-- config-groups:end -->", 1)[0]
    groups = {}
    for line in block.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        groups[cells[0].strip("`")] = set(re.findall(r"`([^`]+)`", cells[1]))
    return groups


def _conf_groups() -> dict[str, set[str]]:
    """{group: options} of conf/: every folder holding option files, nested groups as `hydra/launcher`."""
    conf = ROOT / "conf"
    groups: dict[str, set[str]] = {}
    for option in conf.rglob("*.yaml"):
        if option.parent != conf:
            groups.setdefault(option.parent.relative_to(conf).as_posix(), set()).add(option.stem)
    return groups


def test_the_config_group_table_lists_every_group_and_option_of_conf():
    listed, actual = _group_table(), _conf_groups()
    assert set(listed) == set(actual), "groups in docs/configuration.md differ from conf/'s folders"
    for group, options in actual.items():
        if group == "experiment":  # conf/experiment/ holds `custom`; the catalogue is experiments/
            catalogue = {path.stem for path in (ROOT / "experiments").glob("*.yaml")}
            assert options <= listed[group] and listed[group] <= options | catalogue, listed[group]
        else:
            assert listed[group] == options, f"{group}: docs list {sorted(listed[group])}, conf/ has {sorted(options)}"


def _quoted_commands() -> list[tuple[str, str]]:
    """(file name, line) for every line starting with `dlbook ` inside a fenced code block of the docs."""
    found = []
    for path in DOCS:
        fenced, pending = False, ""
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = pending + line.strip()
            pending = ""
            if stripped.startswith("```"):
                fenced = not fenced
            elif fenced and stripped.endswith("\\"):  # a command continued on the next line
                pending = stripped[:-1]
            elif fenced and stripped.startswith("dlbook "):
                found.append((path.name, stripped))
    return found


def _single_run(arguments: list[str]) -> list[str]:
    """A sweep's arguments as one run: `-m` dropped, each swept value replaced by its first value."""
    parser = OverridesParser.create()
    single = []
    for argument in arguments:
        if argument in ("-m", "--multirun"):
            continue
        if "=" not in argument or argument.startswith("-"):
            single.append(argument)
            continue
        override = parser.parse_override(argument)
        if override.is_sweep_override():
            argument = f"{override.get_key_element()}={next(override.sweep_string_iterator())}"
        single.append(argument)
    return single


def test_the_docs_quote_commands_and_the_checks_below_see_them():
    commands = _quoted_commands()
    files = {name for name, _ in commands}
    assert {"README.md", "sweeps.md", "tracking.md"} <= files, files
    assert sum(1 for _, line in commands if line.startswith("dlbook train")) > 20


def test_every_quoted_command_names_a_sub_command():
    for name, line in _quoted_commands():
        word = shlex.split(line, comments=True)[1]
        assert word in COMMANDS or word.startswith("-"), f"{name}: {line}"


def test_every_quoted_train_and_evaluate_command_composes(tmp_path):
    lines = sorted(
        {
            line
            for _, line in _quoted_commands()
            if shlex.split(line, comments=True)[1] in COMPOSED
            and not any(mark in word for word in shlex.split(line, comments=True) for mark in PLACEHOLDERS)
            and not any(flag in line for flag in ("--cfg", "--help", "--info"))
        }
    )
    assert len(lines) > 15, lines

    def compose(line: str):
        arguments = _single_run(shlex.split(line, comments=True)[1:])
        return line, run_dlbook(*arguments, "--cfg", "job", cwd=tmp_path, timeout=120)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(compose, lines))
    failed = [f"{line}\n  -> {result.stderr.strip()[-400:]}" for line, result in results if result.returncode != 0]
    assert not failed, "\n".join(failed)
    assert not (tmp_path / "outputs").exists()  # --cfg job runs nothing


@pytest.mark.parametrize(
    ("line", "single"),
    [
        ("dlbook train -m experiment=imdb units=16,32 seed=0,1", ["train", "experiment=imdb", "units=16", "seed=0"]),
        ("dlbook train -m ++dataset.lookback=720 experiment=a,b", ["train", "++dataset.lookback=720", "experiment=a"]),
        ("dlbook train callbacks=[default,checkpoint]", ["train", "callbacks=[default,checkpoint]"]),
    ],
)
def test_a_sweep_line_is_checked_as_its_first_job(line, single):
    assert _single_run(shlex.split(line)[1:]) == single
