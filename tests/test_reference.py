"""The verdict each run writes into metrics.json."""

from __future__ import annotations

from dlbook.reference import judge, lookup

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
