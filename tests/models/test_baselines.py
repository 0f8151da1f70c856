"""The common-sense baseline model of book 6.3."""

from __future__ import annotations

import keras
import numpy as np

from dlbook.models.baselines import build_last_value


def test_predicts_the_last_value_of_the_chosen_feature():
    windows = np.random.default_rng(0).random((5, 240, 14), dtype=np.float32)
    predictions = build_last_value((240, 14), feature_index=1).predict(windows, verbose=0)
    np.testing.assert_allclose(predictions[:, 0], windows[:, -1, 1])


def test_saved_baseline_reloads_in_safe_mode(tmp_path):
    model = build_last_value((10, 3), feature_index=2)
    model.compile(loss="mae")
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    windows = np.arange(30, dtype=np.float32).reshape(1, 10, 3)
    assert reloaded.predict(windows, verbose=0)[0, 0] == windows[0, -1, 2]
