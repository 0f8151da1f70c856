"""Jena climate 2009-2016 (420,551 weather records, every 10 minutes): temperature forecasting (book 6.3/6.4).

The book normalizes the 14 measurements with the mean and std of the first 200,000 rows, then feeds
windows from a Python generator: a window *ends* at row ``r``, holds ``data[r - lookback : r : step]``
(all 14 features) and its target is the temperature ``delay`` rows after ``r``. Here a split is the
array of its window end rows; :class:`WindowPipeline` cuts the windows per batch with one vectorized
gather inside tf.data (8-9x the book's generator on 2 CPU cores: bench/jena_windows.py), so no
window is ever stored.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from dlbook.datasets.io.download import fetch
from dlbook.datasets.io.examples import DataSplits, Examples
from dlbook.errors import ConfigError, DatasetFormatError

logger = logging.getLogger("dlbook")

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/jena_climate_2009_2016.csv.zip"
CSV_NAME = "jena_climate_2009_2016.csv"
DATE_COLUMN = "Date Time"
# The 14 measurements in the file's (and the book's) order; the book's feature 1 is the temperature.
COLUMNS = (
    "p (mbar)",
    "T (degC)",
    "Tpot (K)",
    "Tdew (degC)",
    "rh (%)",
    "VPmax (mbar)",
    "VPact (mbar)",
    "VPdef (mbar)",
    "sh (g/kg)",
    "H2OC (mmol/mol)",
    "rho (g/m**3)",
    "wv (m/s)",
    "max. wv (m/s)",
    "wd (deg)",
)
SAMPLING_CHOICES = ("book",)


def load(
    *,
    path: str | None = None,
    origin: str = ORIGIN,
    file_hash: str | None = None,
    cache_dir: str | None = None,
    lookback: int = 1440,
    step: int = 6,
    delay: int = 144,
    train_rows: Sequence[int | None] = [0, 200000],  # noqa: B006 - never mutated; a list to match the YAML
    validation_rows: Sequence[int | None] = [200001, 300000],  # noqa: B006
    test_rows: Sequence[int | None] = [300001, None],  # noqa: B006
    normalize_rows: int = 200000,
    target: str = "T (degC)",
    sampling: str = "book",
    batch_size: int = 128,
    reverse: bool = False,
) -> DataSplits:
    """The book's Jena splits as window end rows (int64) with their normalized targets (float32).

    ``*_rows`` are the book's generator bounds ``[min_index, max_index]`` (``max_index`` null: the last
    row that still has a target). Training uses every end row the book's ``np.random.randint(min_index
    + lookback, max_index)`` could draw. Validation and test are the rows the book's sequential
    generator yields in ``(max_index - min_index - lookback) // batch_size`` batches (its
    ``val_steps`` / ``test_steps``); those counts depend on the book's batch of 128, hence ``batch_size``
    here (it does not set the training batch, ``trainer.batch_size`` does). ``reverse`` feeds every
    window backwards in time (book 6.3's reversed-order GRU: ``samples[:, ::-1, :]``).
    """
    if not isinstance(reverse, bool):
        raise ConfigError(f"dataset.reverse={reverse} is not valid: true (windows backwards in time) or false")
    _check_options(lookback=lookback, step=step, delay=delay, normalize_rows=normalize_rows, batch_size=batch_size)
    if target not in COLUMNS:
        raise ConfigError(f"dataset.target={target} is not valid: one of the columns {', '.join(COLUMNS)}")
    if sampling not in SAMPLING_CHOICES:
        raise ConfigError(
            f"dataset.sampling={sampling} is not valid: {', '.join(SAMPLING_CHOICES)} (the book's generator rows)"
        )
    bounds = {
        "train_rows": _bounds("train_rows", train_rows),
        "validation_rows": _bounds("validation_rows", validation_rows),
        "test_rows": _bounds("test_rows", test_rows),
    }

    file = fetch(
        "Jena climate", fname=f"{CSV_NAME}.zip", origin=origin, file_hash=file_hash, path=path, cache_dir=cache_dir
    )
    raw = read_csv(file)
    if normalize_rows > len(raw):
        raise ConfigError(f"dataset.normalize_rows={normalize_rows} is not valid: {file} has only {len(raw)} rows")
    mean, std = normalization(raw[:normalize_rows], file)
    data = ((raw - mean) / std).astype(np.float32)
    target_index = COLUMNS.index(target)

    window = Window(lookback=lookback, step=step, delay=delay)
    end_rows = {}
    for key, bound in bounds.items():
        try:
            if key == "train_rows":
                end_rows[key] = training_rows(*bound, window=window, count=len(data))
            else:
                end_rows[key] = sequential_rows(*bound, window=window, count=len(data), batch_size=batch_size)
        except WindowError as error:
            raise ConfigError(
                f"dataset.{key}={_spelled(bound)} is not valid with dataset.lookback={lookback}, "
                f"dataset.delay={delay} and dataset.batch_size={batch_size} for {len(data)} rows: {error}"
            ) from None

    def examples(rows: np.ndarray) -> Examples:
        return Examples(rows, data[rows + delay, target_index].astype(np.float32))

    return DataSplits(
        train=examples(end_rows["train_rows"]),
        validation=examples(end_rows["validation_rows"]),
        test=examples(end_rows["test_rows"]),
        input_shape=(window.timesteps, len(COLUMNS)),
        source=f"Jena climate CSV {file} ({len(data)} rows), windows of {lookback} rows every {step}, target "
        f"{target} {delay} rows later",
        info={
            "target_mean": float(mean[target_index]),
            "target_std": float(std[target_index]),
            # Errors on the normalised target are also reported in this unit (MAE x std), e.g. loss_celsius.
            "target_unit": _unit(target),
            "target_index": target_index,
            "columns": list(COLUMNS),
            "lookback": lookback,
            "step": step,
            "delay": delay,
        },
        make_pipeline=WindowPipeline(data, window, reverse=reverse),
    )


def _unit(column: str) -> str:
    """The unit in a column name, spelled for a metric name: "T (degC)" -> "celsius"."""
    unit = column[column.find("(") + 1 : column.rfind(")")] if "(" in column else "units"
    return {"degC": "celsius", "K": "kelvin", "%": "percent"}.get(
        unit, "".join(c if c.isalnum() else "_" for c in unit)
    )


class WindowError(ValueError):
    """A split too short for the window; :func:`load` turns it into a ConfigError naming the keys."""


@dataclass(frozen=True)
class Window:
    """The book's window: ``lookback`` rows before the end row, every ``step``-th, target ``delay`` rows after it."""

    lookback: int
    step: int
    delay: int

    @property
    def timesteps(self) -> int:
        return self.lookback // self.step

    @property
    def offsets(self) -> np.ndarray:
        """Row offsets of the window's timesteps from its end row: ``range(-lookback, 0, step)``."""
        return np.arange(-self.lookback, 0, self.step, dtype=np.int64)


def _check_options(**values: Any) -> None:
    for key, value in values.items():
        minimum = 0 if key == "delay" else 1
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
            raise ConfigError(f"dataset.{key}={value} is not valid: an integer >= {minimum}")
    if values["lookback"] % values["step"]:
        raise ConfigError(
            f"dataset.lookback={values['lookback']} is not valid with dataset.step={values['step']}: lookback "
            "must be a multiple of step (the book's windows hold lookback // step timesteps)"
        )


def _bounds(key: str, value: Any) -> tuple[int, int | None]:
    """``[min_index, max_index]`` of a split; ``max_index`` may be None (null)."""
    try:
        start, end = list(value)
    except (TypeError, ValueError):
        start = end = "?"
    ok_start = isinstance(start, (int, np.integer)) and not isinstance(start, bool) and start >= 0
    ok_end = end is None or (isinstance(end, (int, np.integer)) and not isinstance(end, bool) and end > start)
    if not (ok_start and ok_end):
        raise ConfigError(
            f"dataset.{key}={value} is not valid: [first_row, last_row] with 0 <= first_row < last_row "
            "(last_row null: up to the last row that has a target)"
        )
    return int(start), None if end is None else int(end)


def _spelled(bounds: tuple[int, int | None]) -> str:
    return f"[{bounds[0]}, {'null' if bounds[1] is None else bounds[1]}]"


def _max_index(end: int | None, window: Window, count: int) -> int:
    # The book's generator: max_index=None means len(data) - delay - 1.
    return count - window.delay - 1 if end is None else end


def _check_window(start: int, max_index: int, window: Window, count: int) -> None:
    if start + window.lookback >= max_index:
        first = start + window.lookback
        raise WindowError(f"no window fits: the first end row, {start} + lookback = {first}, is not below {max_index}")
    if max_index - 1 + window.delay >= count:
        raise WindowError(f"the last end row {max_index - 1} + delay has no target (the data ends at row {count - 1})")


def training_rows(start: int, end: int | None, *, window: Window, count: int) -> np.ndarray:
    """Every end row the book's training generator can draw: ``min_index + lookback <= r < max_index``.

    The book draws 128 of them with replacement (``np.random.randint``, unseeded) for each batch; here
    the trainer shuffles them with its seed and walks through them, so within a pass over the rows
    (``trainer.steps_per_epoch=500`` batches is about a third of one) no window repeats. Raises
    :class:`WindowError` when the split is too short for one window.
    """
    max_index = _max_index(end, window, count)
    _check_window(start, max_index, window, count)
    return np.arange(start + window.lookback, max_index, dtype=np.int64)


def sequential_rows(start: int, end: int | None, *, window: Window, count: int, batch_size: int) -> np.ndarray:
    """The end rows the book's sequential generator yields over ``steps`` batches of ``batch_size``.

    The book's ``steps`` are ``(max_index - min_index - lookback) // batch_size`` with ``len(data)`` as
    ``max_index`` when it is None. The generator starts at ``min_index + lookback`` and wraps back there
    when ``i + batch_size >= max_index``, so the last batch may repeat the first (the book's test split:
    929 batches before the wrap, 930 steps). Raises :class:`WindowError` when the split is too short.
    """
    max_index = _max_index(end, window, count)
    _check_window(start, max_index, window, count)
    steps = ((count if end is None else end) - start - window.lookback) // batch_size
    if steps < 1:
        raise WindowError("the split is shorter than lookback + one batch, so the book's generator has 0 steps")
    first = start + window.lookback
    batches_per_pass = (max_index - first - 1) // batch_size
    if batches_per_pass == 0:
        # Too short for one full batch: the book yields the rows first .. max_index - 1 at every step.
        return np.tile(np.arange(first, max_index, dtype=np.int64), steps)
    return first + np.arange(steps * batch_size, dtype=np.int64) % (batches_per_pass * batch_size)


def normalization(rows: np.ndarray, source: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and std (ddof 0) of ``rows``, as the book's ``float_data[:200000]``; float64."""
    mean = rows.mean(axis=0)
    std = rows.std(axis=0)
    constant = [COLUMNS[index] for index in np.flatnonzero(std == 0)]
    if constant:
        raise DatasetFormatError(
            f"{source}: the column(s) {', '.join(constant)} are constant over the first {len(rows)} rows, "
            "so they cannot be normalized (dataset.normalize_rows)"
        )
    return mean, std


class WindowPipeline:
    """``DataSplits.make_pipeline`` of Jena: batches of window end rows -> ``(windows, targets)``.

    Each batch of end rows becomes its windows with one ``tf.gather`` on the resident normalized data
    (the book built each window in a Python loop). The data is kept in "phase" order: all rows
    ``0, step, 2*step ...``, then ``1, step + 1 ...`` and so on, so that a window's rows, ``step`` apart
    in the file, are consecutive in memory; the gather then reads contiguous blocks, about 15% faster.
    """

    def __init__(self, data: np.ndarray, window: Window, reverse: bool = False) -> None:
        self.data = data
        self.window = window
        self.reverse = reverse
        self.rows_per_phase = -(-len(data) // window.step)
        padded = np.zeros((self.rows_per_phase * window.step, data.shape[1]), dtype=data.dtype)
        padded[: len(data)] = data
        # by_phase[phase * rows_per_phase + k] is data[k * step + phase].
        self.by_phase = padded.reshape(self.rows_per_phase, window.step, -1).transpose(1, 0, 2).reshape(len(padded), -1)
        self._tensor = None

    def resident(self, examples: Examples):
        """The tensors the pipeline gathers from, in host memory: the data in phase order (made once), the
        window end rows and the targets of ``examples``. (Outside a device scope TensorFlow would put them
        on the GPU, where the whole series would take memory the model needs.)"""
        import tensorflow as tf

        with tf.device("/CPU:0"):
            if self._tensor is None:
                self._tensor = tf.constant(self.by_phase)
            # int32 row indices: tf.gather is about 20% faster with them than with int64 (420,551 rows fit).
            end_rows = tf.constant(np.asarray(examples.features, dtype=np.int32))
            targets = tf.constant(examples.targets)
        return self._tensor, end_rows, targets

    def numpy_batch(self, examples: Examples):
        """The same windows made with NumPy, for the input path without TensorFlow: a function of a batch's
        example indices returning ``(windows, targets)``."""
        end_rows = np.asarray(examples.features, dtype=np.int64)
        targets = np.asarray(examples.targets)
        timesteps = np.arange(self.window.timesteps)
        lookback, step, rows_per_phase = self.window.lookback, self.window.step, self.rows_per_phase

        def make_batch(indices: np.ndarray):
            start = end_rows[indices] - lookback
            first = (start % step) * rows_per_phase + start // step
            windows = self.by_phase[first[:, None] + timesteps]
            return (windows[:, ::-1] if self.reverse else windows), targets[indices]

        return make_batch

    def __call__(self, examples: Examples, batch_size: int, *, shuffle: bool, seed: int | None = None, training=False):
        import tensorflow as tf

        by_phase, end_rows, targets = self.resident(examples)
        lookback, step, rows_per_phase = self.window.lookback, self.window.step, self.rows_per_phase
        reverse = self.reverse
        timesteps = tf.range(self.window.timesteps, dtype=tf.int32)
        count = len(examples)
        batches = -(-count // batch_size)

        def batches_in(order):
            def batch(number):
                picked = order[number * batch_size : (number + 1) * batch_size]
                # A window holds data[start], data[start + step] ... with start = end row - lookback.
                start = tf.gather(end_rows, picked) - lookback
                first = (start % step) * rows_per_phase + start // step
                windows = tf.gather(by_phase, first[:, None] + timesteps)
                if reverse:
                    windows = tf.reverse(windows, axis=[1])
                return windows, tf.gather(targets, picked)

            return tf.data.Dataset.range(batches).map(batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

        if shuffle:
            # A new permutation of all rows for every pass (every epoch, or every repeat), drawn in one
            # op from `seed`: tf.data's element-wise shuffle of 200,000 rows halves the throughput.
            pass_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)

            def one_pass(pass_seed):
                key = tf.stack([pass_seed, tf.constant(0, tf.int64)])
                return batches_in(tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64), seed=key))

            dataset = pass_seeds.flat_map(one_pass)
        else:
            dataset = batches_in(tf.range(count, dtype=tf.int64))
        return dataset.prefetch(tf.data.AUTOTUNE)


def read_csv(file: Path) -> np.ndarray:
    """The 14 measurement columns of a Jena CSV (plain or zipped), by header name, as float64 ``(rows, 14)``.

    The columns may come in any order; a missing column or a cell that is not a number raises
    :class:`DatasetFormatError` naming it (and the line).
    """
    try:
        return _read_columns(file)
    except UnicodeDecodeError as error:
        raise DatasetFormatError(f"{file} is not UTF-8 text ({error}); it is not the Jena climate CSV") from error


def _read_columns(file: Path) -> np.ndarray:
    with open_csv(file) as (stream, source):
        header_line = stream.readline()
        header = [name.strip() for name in next(csv.reader([header_line]), [])]
        missing = [name for name in COLUMNS if name not in header]
        if missing:
            raise DatasetFormatError(
                f"{source} lacks the column(s) {', '.join(missing)}; its header has: {', '.join(header) or 'nothing'}. "
                "It is not the Jena climate CSV (jena_climate_2009_2016.csv)."
            )
        columns = [header.index(name) for name in COLUMNS]
        try:
            # NumPy's C parser: about 1 s for the real file's 420,551 rows (the book's splitting about 2 s).
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "input contained no data": reported below
                values = np.loadtxt(stream, delimiter=",", quotechar='"', usecols=columns, dtype=np.float64, ndmin=2)
        except ValueError as error:
            failure = error
        else:
            failure = None
    if failure is not None:
        # Slow path, only to say where the file is broken.
        raise DatasetFormatError(_locate_bad_cell(file, columns) or f"{source} cannot be read as numbers: {failure}")
    if not len(values):
        raise DatasetFormatError(f"{source} has a header but no data rows")
    return values


def _locate_bad_cell(file: Path, columns: list[int]) -> str | None:
    with open_csv(file) as (stream, source):
        reader = csv.reader(stream)
        header = next(reader)
        for cells in reader:
            if not cells or not "".join(cells).strip():
                continue
            for column in columns:
                if column >= len(cells):
                    return f"{source}, line {reader.line_num}: only {len(cells)} cells, expected {len(header)}"
                try:
                    float(cells[column])
                except ValueError:
                    return (
                        f"{source}, line {reader.line_num} (data row {reader.line_num - 1}), column "
                        f"{header[column].strip()}: {cells[column]!r} is not a number"
                    )
    return None


@contextmanager
def open_csv(file: Path) -> Iterator[tuple[TextIO, str]]:
    """A text stream over the CSV: the file itself, or the ``.csv`` member of a zip (streamed)."""
    if zipfile.is_zipfile(file):
        with zipfile.ZipFile(file) as archive:
            member = _csv_member(archive, file)
            with archive.open(member) as raw:
                yield io.TextIOWrapper(raw, encoding="utf-8-sig", newline=""), f"{file}:{member}"
    else:
        with open(os.fspath(file), encoding="utf-8-sig", newline="") as stream:
            yield stream, str(file)


def _csv_member(archive: zipfile.ZipFile, file: Path) -> str:
    # Zips made on macOS also hold __MACOSX/._<name> resource files, which are not CSV.
    names = [
        name
        for name in archive.namelist()
        if name.lower().endswith(".csv") and not name.startswith("__MACOSX/") and not Path(name).name.startswith("._")
    ]
    if not names:
        raise DatasetFormatError(f"{file} holds no .csv file (it has: {', '.join(archive.namelist()) or 'nothing'})")
    preferred = [name for name in names if Path(name).name == CSV_NAME]
    return (preferred or names)[0]
