"""Generated chapter-7 datasets: shapes, dtypes, determinism by seed and a learnable signal."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook.datasets import synthetic
from dlbook.errors import ConfigError


def test_question_answering_shapes_and_planted_answer():
    data = synthetic.question_answering(train_samples=50, test_samples=10)
    assert data.input_shape == {"text": (100,), "question": (100,)}
    for name in ("text", "question"):
        words = data.train.features[name]
        assert words.shape == (50, 100) and words.dtype == np.int32
        assert 0 <= words.min() and words.max() < 10000
    answers = data.train.targets["answer"]
    assert answers.shape == (50, 500) and answers.dtype == np.float32
    np.testing.assert_array_equal(answers.sum(axis=1), 1)
    # The answer's word (1 + answer) is the question's most frequent word: learnable.
    labels = answers.argmax(axis=1)
    for question, label in zip(data.train.features["question"], labels, strict=True):
        assert np.bincount(question[question > 0]).argmax() == 1 + label
    assert len(data.test) == 10
    assert data.differs_from_book == synthetic.GENERATED  # never compared with a book number


def test_posts_targets_and_marker_words():
    data = synthetic.posts(train_samples=40, test_samples=8, seed=3)
    posts = data.train.features["posts"]
    assert posts.shape == (40, 300) and posts.dtype == np.int32 and posts.max() < 50000
    targets = data.train.targets
    assert targets["age"].shape == (40,) and targets["age"].dtype == np.float32
    assert 1.8 <= targets["age"].min() and targets["age"].max() <= 8.0  # decades
    assert targets["income"].shape == (40, 10)
    assert set(np.unique(targets["gender"])) <= {0.0, 1.0}
    for post, gender, income in zip(posts, targets["gender"], targets["income"].argmax(axis=1), strict=True):
        counts = np.bincount(post, minlength=20)
        assert counts[1 + int(gender)] > counts[2 - int(gender)]
        assert counts[3 + income] == counts[3:13].max()


def test_images_shapes_range_and_class_signal():
    data = synthetic.images(train_samples=60, test_samples=10, size=32)
    images, labels = data.train.features, data.train.targets
    assert images.shape == (60, 32, 32, 3) and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 1
    assert data.input_shape == (32, 32, 3)
    # Each class has its own colour: the mean colour tells the classes apart.
    classes = labels.argmax(axis=1)
    colours = images.mean(axis=(1, 2))
    nearest = [
        np.argmin([np.abs(colour - colours[classes == other].mean(axis=0)).sum() for other in np.unique(classes)])
        for colour in colours
    ]
    assert np.mean(np.unique(classes)[nearest] == classes) > 0.8


def test_sentence_pairs_are_positive_when_both_sentences_are_about_the_subject():
    data = synthetic.sentence_pairs(train_samples=400, test_samples=20, noise=0.0)
    left, right = data.train.features["left"], data.train.features["right"]
    same = data.train.targets["same"]
    assert left.shape == right.shape == (400, 20) and left.dtype == np.int32
    about = [(sentences <= synthetic.SUBJECT_WORDS).sum(axis=1) == 3 for sentences in (left, right)]
    mentions = [(sentences <= synthetic.SUBJECT_WORDS).sum(axis=1) for sentences in (left, right)]
    assert all(set(np.unique(count)) <= {0, 3} for count in mentions)  # no decoys with noise=0
    np.testing.assert_array_equal(same == 1, about[0] & about[1])
    assert 0.15 < same.mean() < 0.35  # both about the subject: 1 pair in 4


@pytest.mark.parametrize(
    "loader", [synthetic.question_answering, synthetic.posts, synthetic.images, synthetic.sentence_pairs]
)
def test_the_seed_decides_the_data(loader):
    small = {"train_samples": 12, "test_samples": 4}
    if loader is synthetic.images:
        small["size"] = 16
    first, again, other = loader(**small, seed=1), loader(**small, seed=1), loader(**small, seed=2)

    def arrays(data):
        values = [data.train.features, data.train.targets, data.test.features]
        return [v for value in values for v in (value.values() if isinstance(value, dict) else [value])]

    for one, two in zip(arrays(first), arrays(again), strict=True):
        np.testing.assert_array_equal(one, two)
    assert any(not np.array_equal(one, two) for one, two in zip(arrays(first), arrays(other), strict=True))


def test_invalid_settings_name_the_key():
    with pytest.raises(ConfigError, match=r"dataset\.train_samples=0 is not valid"):
        synthetic.sentence_pairs(train_samples=0)
    with pytest.raises(ConfigError, match=r"dataset\.min_length=50 is not valid"):
        synthetic.question_answering(min_length=50, max_length=20)
    with pytest.raises(ConfigError, match=r"dataset\.answer_pool=600"):
        synthetic.question_answering(answer_pool=600)
