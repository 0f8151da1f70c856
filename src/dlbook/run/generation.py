"""Character-level text generation (book 8.1): temperature sampling and a per-epoch sampler.

`dlbook generate` (dlbook.commands.generate) draws text from a trained run with the same functions.

The model reads a one-hot window of ``maxlen`` characters and predicts the next character's
distribution; generation re-weights that distribution with a temperature (``log(p) / T``, softmax),
draws a character, slides the window by one and repeats, as the book's ``sample`` loop does.
TensorFlow / Keras are imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dlbook.errors import ConfigError, DlbookError

log = logging.getLogger("dlbook")

SAMPLES_FOLDER = "samples"
GENERATED_FILE = "generated.txt"
BOOK_TEMPERATURES = (0.2, 0.5, 1.0, 1.2)


def reweight(probabilities, temperature: float) -> np.ndarray:
    """The book's re-weighting: ``softmax(log(p) / temperature)`` as float64 summing to 1.

    Lower temperatures sharpen the distribution towards its most likely character; 1 leaves it as is.
    """
    _check_temperature(temperature, "temperature")
    probabilities = np.asarray(probabilities, dtype=np.float64)
    # log(0) = -inf is fine here: exp(-inf) = 0, the character stays impossible.
    with np.errstate(divide="ignore"):
        logits = np.log(probabilities) / float(temperature)
    logits -= np.max(logits)  # exp of large values would overflow at small temperatures
    weights = np.exp(logits)
    return weights / np.sum(weights)


def sample_index(probabilities, temperature: float, rng: np.random.Generator) -> int:
    """One character index drawn from the re-weighted distribution."""
    reweighted = reweight(probabilities, temperature)
    return int(rng.choice(len(reweighted), p=reweighted))


def sample_text(
    model, seed_text: str, chars: Sequence[str], length: int, temperature: float, rng: np.random.Generator
) -> str:
    """``length`` characters generated after ``seed_text`` (not included) at ``temperature``.

    The model sees the last ``maxlen`` characters (its input length); a shorter seed is padded with
    spaces on the left when the vocabulary has a space. Every seed character must be in ``chars``.
    """
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise ConfigError(f"length={length!r} is not valid: give the number of characters to generate (>= 0).")
    _check_temperature(temperature, "temperature")
    index = {char: position for position, char in enumerate(chars)}
    unknown = sorted({char for char in seed_text if char not in index})
    if unknown:
        raise ConfigError(
            f"seed_text={seed_text!r} is not valid: {', '.join(map(repr, unknown))} not in the run's vocabulary "
            f"of {len(chars)} characters: {''.join(chars)!r}."
        )
    maxlen = model.input_shape[1] or len(seed_text)
    if len(seed_text) < maxlen:
        if " " not in index:
            raise ConfigError(
                f"seed_text={seed_text!r} is not valid: the model reads {maxlen} characters and the vocabulary "
                "has no space to pad a shorter seed with; give at least that many characters."
            )
        seed_text = " " * (maxlen - len(seed_text)) + seed_text
    import keras

    predictor = _predictor(model)
    window = [index[char] for char in seed_text[-maxlen:]]
    one_hot = np.zeros((1, maxlen, len(chars)), dtype=np.float32)
    generated = []
    for _ in range(length):
        one_hot[:] = 0.0
        one_hot[0, np.arange(maxlen), window] = 1.0
        probabilities = keras.ops.convert_to_numpy(predictor(one_hot))[0]
        next_index = sample_index(probabilities, temperature, rng)
        generated.append(chars[next_index])
        window = [*window[1:], next_index]
    return "".join(generated)


_PREDICTORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _predictor(model):
    """``model(x, training=False)`` as a compiled function, one per model.

    One character at a time means 400 calls per sample: an eager call of the book's LSTM costs about
    90 ms on a CPU and model.predict more, a compiled call about 2 ms. TensorFlow compiles it with
    ``tf.function``; the other backends' ``predict_on_batch`` is their own compiled prediction step.
    """
    import keras

    if model not in _PREDICTORS:
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            _PREDICTORS[model] = tf.function(lambda inputs: model(inputs, training=False), reduce_retracing=True)
        else:
            _PREDICTORS[model] = model.predict_on_batch
    return _PREDICTORS[model]


def random_seed_text(data, rng: np.random.Generator) -> str:
    """A random training window of the dataset (``maxlen`` characters), decoded to text."""
    features = data.train.features
    chars = data.info["chars"]
    row = features[int(rng.integers(len(features)))]
    return "".join(chars[int(i)] for i in row)


def format_samples(seed_text: str, samples: dict[float, str], heading: str) -> str:
    """The text of one samples file: a heading, the seed, then each temperature's generated text."""
    parts = [heading, f"--- seed: {seed_text!r}"]
    for temperature, text in samples.items():
        parts.append(f"--- temperature {temperature}\n{seed_text}{text}")
    return "\n\n".join(parts) + "\n"


def next_char_dense(data, activation: str = "softmax"):
    """``Dense(len(chars), softmax)``: the output layer sized to the dataset's vocabulary (57 for Nietzsche).

    A layer factory for model=sequential: the builder passes the dataset, so a text with another
    vocabulary needs no change to the experiment.
    """
    import keras

    chars = (getattr(data, "info", None) or {}).get("chars")
    if not chars:
        raise ConfigError(
            "dlbook.run.generation.next_char_dense needs a character dataset (its info has `chars`), "
            "e.g. dataset=nietzsche; use keras.layers.Dense with `units` for other data."
        )
    return keras.layers.Dense(len(chars), activation=activation)


def text_sampler(
    directory: str,
    temperatures: Sequence[float] = BOOK_TEMPERATURES,
    length: int = 400,
    seed: int | None = None,
    phase: str = "fit",
):
    """The book's per-epoch sampling as a callback: after each epoch, text at every temperature.

    A random training window (``seed`` seeds the choice and the draws) starts ``length`` generated
    characters per temperature, written to ``<directory>/samples/epoch_NNN.txt`` (epochs from 1;
    ``<phase>_epoch_NNN.txt`` for fits other than ``fit``) and as TensorBoard text summaries under
    ``<directory>/tensorboard/samples``. The trainer hands it the dataset through ``set_data``.
    """
    import keras

    temperatures = [float(value) for value in temperatures]
    if not temperatures:
        raise ConfigError("callbacks.text_sampler.temperatures=[] is not valid: list at least one, e.g. [0.5].")
    for value in temperatures:
        _check_temperature(value, "callbacks.text_sampler.temperatures")
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ConfigError(f"callbacks.text_sampler.length={length!r} is not valid: give a whole number >= 1.")

    class TextSampler(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.directory = Path(directory)
            self.rng = np.random.default_rng(seed)
            self.data = None
            self.writer = None

        def set_data(self, data) -> None:
            if "chars" not in data.info:
                raise ConfigError(
                    "callbacks.text_sampler needs a character dataset (dataset=nietzsche or another "
                    f"dlbook.datasets.text_corpus text); this dataset's info has {sorted(data.info)}."
                )
            self.data = data

        def on_epoch_end(self, epoch, logs=None):
            import tensorflow as tf

            if self.data is None:
                raise DlbookError("callbacks.text_sampler got no dataset: it runs only inside dlbook's trainer.")
            seed_text = random_seed_text(self.data, self.rng)
            chars = self.data.info["chars"]
            samples = {t: sample_text(self.model, seed_text, chars, length, t, self.rng) for t in temperatures}
            prefix = "" if phase == "fit" else f"{phase}_"
            target = self.directory / SAMPLES_FOLDER / f"{prefix}epoch_{epoch + 1:03d}.txt"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(format_samples(seed_text, samples, f"{phase}, epoch {epoch + 1}"), encoding="utf-8")
            if self.writer is None:
                self.writer = tf.summary.create_file_writer(str(self.directory / "tensorboard" / SAMPLES_FOLDER))
            with self.writer.as_default():
                for temperature, text in samples.items():
                    # Indented four spaces: TensorBoard renders text as Markdown, a code block keeps it verbatim.
                    block = "\n".join("    " + line for line in (seed_text + text).splitlines())
                    tf.summary.text(f"{prefix}temperature_{temperature}", block, step=epoch + 1)
            self.writer.flush()
            log.info("epoch %d: samples at temperatures %s in %s", epoch + 1, temperatures, target)

        def on_train_end(self, logs=None):
            if self.writer is not None:
                self.writer.close()
                self.writer = None

    return TextSampler()


def _check_temperature(value, key: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(
            f"{key}={value!r} is not valid: a temperature is a number > 0 (the book: 0.2, 0.5, 1.0, 1.2)."
        )
