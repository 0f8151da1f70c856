"""Small generated datasets for the book's chapter-7 models, which the book shows without data.

Each ``*`` loader returns :class:`DataSplits` with named features (the model's input names) and
named targets (its output names), of the shapes the book's listings expect, and a signal the
model can learn, so that a run shows more than chance. Everything comes from ``seed``.

- :func:`question_answering` (7.1.2): ``text`` and ``question`` word sequences -> ``answer`` (one-hot).
- :func:`posts` (7.1.3): a social-media post -> ``age`` (years), ``income`` (10 groups, one-hot), ``gender``.
- :func:`images` (7.1.4, 7.3): 64x64x3 images of 10 classes of textures.
- :func:`sentence_pairs` (7.1.5): two sentences -> 1 if one is a noisy copy of the other.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlbook.datasets.io.examples import DataSplits, Examples
from dlbook.errors import ConfigError

# The book gives no data for chapter 7's models: a run on these is never compared with a book number.
GENERATED = "generated data (the book gives no data for this experiment)"


def _check_count(key: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"dataset.{key}={value!r} is not valid: an integer >= {minimum}")
    return int(value)


def _check_fraction(key: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"dataset.{key}={value!r} is not valid: a fraction between 0 and 1")
    return float(value)


def _check_lengths(min_length, max_length, smallest: int = 1) -> tuple[int, int]:
    min_length = _check_count("min_length", min_length, smallest)
    max_length = _check_count("max_length", max_length, smallest)
    if min_length > max_length:
        raise ConfigError(
            f"dataset.min_length={min_length} is not valid with dataset.max_length={max_length}: "
            "min_length must not exceed max_length"
        )
    return min_length, max_length


def _splits(
    make: Callable[[np.random.Generator, int], tuple[dict | np.ndarray, dict | np.ndarray]],
    train_samples: int,
    test_samples: int,
    seed: int,
) -> tuple[Examples, Examples]:
    """Training and test examples drawn from ``make`` with independent generators of ``seed``."""
    seed = _check_count("seed", seed, 0)
    train_samples = _check_count("train_samples", train_samples)
    test_samples = _check_count("test_samples", test_samples)
    train_generator, test_generator = (np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(2))
    return Examples(*make(train_generator, train_samples)), Examples(*make(test_generator, test_samples))


def _padded(rows: list[np.ndarray], length: int) -> np.ndarray:
    """Rows padded with zeros in front to ``length`` (Keras' pad_sequences default)."""
    padded = np.zeros((len(rows), length), dtype=np.int32)
    for index, row in enumerate(rows):
        padded[index, length - len(row) :] = row
    return padded


def _random_words(generator: np.random.Generator, lengths: np.ndarray, low: int, high: int) -> list[np.ndarray]:
    return [generator.integers(low, high, size=length, dtype=np.int32) for length in lengths]


def _plant(generator: np.random.Generator, row: np.ndarray, word: int, fraction: float) -> None:
    """Write ``word`` at a random ``fraction`` of the row's positions (at least one): the learnable signal."""
    count = max(1, int(round(len(row) * fraction)))
    row[generator.choice(len(row), size=min(count, len(row)), replace=False)] = word


def question_answering(
    *,
    train_samples: int = 1000,
    test_samples: int = 200,
    vocabulary_size: int = 10000,
    min_length: int = 10,
    max_length: int = 100,
    answers: int = 500,
    answer_pool: int = 50,
    signal: float = 0.5,
    seed: int = 0,
) -> DataSplits:
    """Book 7.1.2's data: ``text`` and ``question`` word indices -> ``answer``, one of ``answers`` (one-hot).

    The book draws everything at random (nothing to learn). Here word ``1 + answer`` (words 1 to
    ``answers`` stand for the answers) fills a ``signal`` fraction of the question's words and half
    as many of the text's: a model can read the answer off the question. The answers are drawn from
    the first ``answer_pool`` classes, so that a small dataset shows each answer often enough to be
    learnt in the book's 10 epochs (the model still chooses among all ``answers``). Sequences have
    ``min_length`` to ``max_length`` words, zero-padded in front to ``max_length`` (int32).
    """
    vocabulary_size = _check_count("vocabulary_size", vocabulary_size, 2)
    answers = _check_count("answers", answers, 2)
    min_length, max_length = _check_lengths(min_length, max_length)
    signal = _check_fraction("signal", signal)
    answer_pool = _check_count("answer_pool", answer_pool)
    if answer_pool > answers:
        raise ConfigError(
            f"dataset.answer_pool={answer_pool} is not valid with dataset.answers={answers}: at most {answers}"
        )
    if answers + 1 >= vocabulary_size:
        raise ConfigError(
            f"dataset.answers={answers} is not valid with dataset.vocabulary_size={vocabulary_size}: "
            "the answers need their own words, so answers + 1 < vocabulary_size"
        )

    def make(generator, count):
        answer = generator.integers(0, answer_pool, size=count)
        features = {}
        for name, fraction in (("text", signal / 2), ("question", signal)):
            rows = _random_words(
                generator, generator.integers(min_length, max_length + 1, size=count), 1, vocabulary_size
            )
            for row, label in zip(rows, answer, strict=True):
                _plant(generator, row, 1 + int(label), fraction)
            features[name] = _padded(rows, max_length)
        return features, {"answer": np.eye(answers, dtype=np.float32)[answer]}

    train, test = _splits(make, train_samples, test_samples, seed)
    return DataSplits(
        train=train,
        test=test,
        input_shape={"text": (max_length,), "question": (max_length,)},
        source=f"generated question answering (seed {seed}): the answer's word is planted in the question",
        differs_from_book=GENERATED,
        info={"vocabulary_size": vocabulary_size, "answers": answers, "max_length": max_length},
    )


def posts(
    *,
    train_samples: int = 1000,
    test_samples: int = 200,
    vocabulary_size: int = 50000,
    min_length: int = 280,
    max_length: int = 300,
    income_groups: int = 10,
    signal: float = 0.1,
    seed: int = 0,
) -> DataSplits:
    """Book 7.1.3's data: a ``posts`` word sequence -> ``age`` (in decades, float32), ``income`` (one-hot
    of ``income_groups``) and ``gender`` (0 or 1, float32).

    The age is given in decades (1.8 to 8.0) so that its mean squared error is "around 3-5" for an
    untrained model, as the book assumes when it weights the losses [0.25, 1, 10]; in years the age
    loss is 100 times larger and drowns the other two heads.

    Each target has its own marker words, planted at a ``signal`` fraction of the post's positions:
    words 1-2 for the gender, 3 to 2 + income_groups for the income group, and the next 63 for the
    age in years (18 to 80). The book's Conv1D network needs posts of at least 269 words (two
    pooling steps of 5), hence the default lengths.
    """
    vocabulary_size = _check_count("vocabulary_size", vocabulary_size, 2)
    income_groups = _check_count("income_groups", income_groups, 2)
    min_length, max_length = _check_lengths(min_length, max_length)
    signal = _check_fraction("signal", signal)
    age_low, age_high = 18, 80
    age_word = 3 + income_groups
    if age_word + (age_high - age_low) >= vocabulary_size:
        raise ConfigError(
            f"dataset.vocabulary_size={vocabulary_size} is not valid: the marker words need "
            f"{age_word + age_high - age_low + 1} words, so give a larger vocabulary"
        )

    def make(generator, count):
        age = generator.integers(age_low, age_high + 1, size=count)
        income = generator.integers(0, income_groups, size=count)
        gender = generator.integers(0, 2, size=count)
        rows = _random_words(generator, generator.integers(min_length, max_length + 1, size=count), 1, vocabulary_size)
        for row, years, group, sex in zip(rows, age, income, gender, strict=True):
            _plant(generator, row, 1 + int(sex), signal)
            _plant(generator, row, 3 + int(group), signal)
            _plant(generator, row, age_word + int(years) - age_low, signal)
        targets = {
            "age": (age / 10.0).astype(np.float32),
            "income": np.eye(income_groups, dtype=np.float32)[income],
            "gender": gender.astype(np.float32),
        }
        return {"posts": _padded(rows, max_length)}, targets

    train, test = _splits(make, train_samples, test_samples, seed)
    return DataSplits(
        train=train,
        test=test,
        input_shape={"posts": (max_length,)},
        source=f"generated posts (seed {seed}): marker words for age, income group and gender",
        differs_from_book=GENERATED,
        info={"vocabulary_size": vocabulary_size, "income_groups": income_groups, "max_length": max_length},
    )


def images(
    *,
    train_samples: int = 1000,
    test_samples: int = 200,
    size: int = 64,
    classes: int = 10,
    noise: float = 0.2,
    seed: int = 0,
) -> DataSplits:
    """``size`` x ``size`` x 3 float32 images in [0, 1] of ``classes`` textures, labels one-hot.

    Class ``k`` is a stripe pattern at angle ``k * 180 / classes`` degrees, in a colour of its own,
    at a random phase, plus Gaussian noise of std ``noise``: convnets (book 7.1.4, 7.3) learn it.
    """
    size = _check_count("size", size, 8)
    classes = _check_count("classes", classes, 2)
    noise = _check_fraction("noise", noise)
    axis = np.arange(size, dtype=np.float32)
    rows, columns = np.meshgrid(axis, axis, indexing="ij")
    angles = np.pi * np.arange(classes) / classes
    # A fixed colour per class (from the class index, not the seed, so that splits agree).
    colours = 0.3 + 0.7 * np.random.default_rng(1234).random((classes, 3)).astype(np.float32)

    def make(generator, count):
        labels = generator.integers(0, classes, size=count)
        phases = generator.uniform(0, 2 * np.pi, size=count).astype(np.float32)
        pictures = np.empty((count, size, size, 3), dtype=np.float32)
        for index, (label, phase) in enumerate(zip(labels, phases, strict=True)):
            direction = np.cos(angles[label]) * columns + np.sin(angles[label]) * rows
            stripes = 0.5 + 0.5 * np.sin(2 * np.pi * direction / 8 + phase)
            pictures[index] = stripes[..., None] * colours[label]
        pictures += generator.normal(0, noise, size=pictures.shape).astype(np.float32)
        return np.clip(pictures, 0, 1), np.eye(classes, dtype=np.float32)[labels]

    train, test = _splits(make, train_samples, test_samples, seed)
    return DataSplits(
        train=train,
        test=test,
        input_shape=(size, size, 3),
        source=f"generated {size}x{size} stripe images of {classes} classes (seed {seed})",
        differs_from_book=GENERATED,
        info={"classes": classes},
    )


SUBJECT_WORDS = 10


def sentence_pairs(
    *,
    train_samples: int = 4000,
    test_samples: int = 400,
    vocabulary_size: int = 1000,
    length: int = 20,
    noise: float = 0.1,
    seed: int = 0,
) -> DataSplits:
    """Book 7.1.5's data: ``left`` and ``right`` sentences (int32 words) -> ``same`` (1.0 or 0.0).

    Words 1..10 are the "subject" words. Each sentence mentions the subject (three of its words are
    subject words) with probability 1/2, independently; ``same`` = 1 when both sentences are about
    the subject. A ``noise`` fraction of the other sentences carry one subject word as a decoy. The
    book's model (one shared LSTM encodes each sentence, one Dense unit reads the two encodings)
    can learn this: the shared LSTM detects the subject in either sentence, and the unit fires
    when both encodings do (a linear unit can test "both", not "equal").
    """
    vocabulary_size = _check_count("vocabulary_size", vocabulary_size, 20)
    length = _check_count("length", length, 4)
    noise = _check_fraction("noise", noise)

    def sentences(generator, count):
        words = generator.integers(SUBJECT_WORDS + 1, vocabulary_size, size=(count, length)).astype(np.int32)
        about = generator.random(count) < 0.5
        for index in range(count):
            mentions = 3 if about[index] else int(generator.random() < noise)
            positions = generator.choice(length, size=mentions, replace=False)
            words[index, positions] = generator.integers(1, SUBJECT_WORDS + 1, size=mentions)
        return words, about

    def make(generator, count):
        left, left_about = sentences(generator, count)
        right, right_about = sentences(generator, count)
        same = (left_about & right_about).astype(np.float32)
        return {"left": left, "right": right}, {"same": same}

    train, test = _splits(make, train_samples, test_samples, seed)
    return DataSplits(
        train=train,
        test=test,
        input_shape={"left": (length,), "right": (length,)},
        source=f"generated sentence pairs (seed {seed}): both about the subject (1) or not (0)",
        differs_from_book=GENERATED,
        info={"vocabulary_size": vocabulary_size, "length": length},
    )
