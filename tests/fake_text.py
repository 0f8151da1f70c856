"""Small text and time-series dataset files in the exact formats of the real ones.

``write_aclimdb`` builds Stanford's ``aclImdb/`` tree (one review per ``<id>_<rating>.txt``), with cue
words so that a model can learn the labels; ``write_glove`` writes GloVe text (``word v1 ... vd``) and
``write_glove_zip`` a ``glove.6B.zip``; ``write_jena_csv`` writes the Jena climate CSV with its real
15-column header, dates and number formats, and a daily temperature cycle (144 rows a day).
"""

from __future__ import annotations

import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

NEGATIVE_CUES = ("awful", "boring", "dreadful", "waste")
POSITIVE_CUES = ("wonderful", "superb", "moving", "brilliant")
FILLER = (
    "the movie film plot actor actress scene story director camera music ending character dialogue "
    "script a an of and to in it was is this that with for on as but at by"
).split()


def review(rng: np.random.RandomState, label: int) -> str:
    """One review: filler words, a few cue words of ``label``, capitals, punctuation and a <br /> tag."""
    cues = POSITIVE_CUES if label else NEGATIVE_CUES
    words = list(rng.choice(FILLER, size=rng.randint(8, 40)))
    for _ in range(rng.randint(1, 4)):
        words.insert(rng.randint(0, len(words) + 1), str(rng.choice(cues)))
    words[0] = words[0].capitalize()
    middle = len(words) // 2
    return " ".join(words[:middle]) + ". <br /><br />" + " ".join(words[middle:]) + "!"


def write_aclimdb(folder: Path, per_class: int = 20, seed: int = 0, test_per_class: int | None = None) -> Path:
    """``folder/aclImdb`` with train/ and test/ ``{neg,pos}/<id>_<rating>.txt``, plus unsup/ and .feat files.

    Returns the ``aclImdb`` folder. Ratings are 1-4 for negative and 7-10 for positive reviews, as in
    the real data; ``unsup/`` and ``labeledBow.feat`` are there to be ignored.
    """
    rng = np.random.RandomState(seed)
    root = Path(folder) / "aclImdb"
    counts = {"train": per_class, "test": per_class if test_per_class is None else test_per_class}
    for split, count in counts.items():
        for name, label in (("neg", 0), ("pos", 1)):
            directory = root / split / name
            directory.mkdir(parents=True, exist_ok=True)
            for number in range(count):
                rating = rng.randint(7, 11) if label else rng.randint(1, 5)
                (directory / f"{number}_{rating}.txt").write_text(review(rng, label), encoding="utf-8")
        (root / split / "labeledBow.feat").write_text("0 0:1 1:2\n")
    (root / "train" / "unsup").mkdir(exist_ok=True)
    (root / "train" / "unsup" / "0_0.txt").write_text("unlabelled review that must be ignored")
    (root / "README").write_text("Large Movie Review Dataset v1.0 (fake)\n")
    return root


def write_aclimdb_tar(path: Path, per_class: int = 20, seed: int = 0, test_per_class: int | None = None) -> Path:
    """An ``aclImdb_v1.tar.gz`` of :func:`write_aclimdb`'s tree (top folder ``aclImdb/``)."""
    path = Path(path)
    source = path.parent / f".{path.name}.tree"
    root = write_aclimdb(source, per_class=per_class, seed=seed, test_per_class=test_per_class)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(root, arcname="aclImdb")
    return path


def write_glove(path: Path, words: Sequence[str], dimension: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A GloVe text file: one ``word v1 ... vd`` line per word (5 decimals, as GloVe writes them).

    Returns each word's vector as float32, as parsed back from the text.
    """
    rng = np.random.RandomState(seed)
    vectors = {}
    lines = []
    for word in words:
        cells = [f"{value:.5f}" for value in rng.uniform(-1, 1, size=dimension)]
        lines.append(" ".join([word, *cells]))
        vectors[word] = np.array(cells, dtype=np.float32)
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return vectors


def write_glove_zip(
    path: Path, words: Sequence[str], dimensions: Sequence[int] = (50, 100), seed: int = 0
) -> dict[int, dict[str, np.ndarray]]:
    """A ``glove.6B.zip`` holding ``glove.6B.<d>d.txt`` for each dimension; returns the vectors by dimension."""
    path = Path(path)
    result = {}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for dimension in dimensions:
            member = path.parent / f".glove.6B.{dimension}d.txt"
            result[dimension] = write_glove(member, words, dimension, seed=seed + dimension)
            archive.write(member, arcname=f"glove.6B.{dimension}d.txt")
            member.unlink()
    return result


JENA_HEADER = (
    "Date Time",
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


def jena_weather(rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Synthetic weather by column name: a daily temperature cycle (144 rows a day) plus noise and drift."""
    rng = np.random.RandomState(seed)
    time = np.arange(rows)
    daily = np.sin(2 * np.pi * (time % 144) / 144 - np.pi / 2)
    temperature = 5 + 6 * daily + np.cumsum(rng.normal(0, 0.05, rows)) + rng.normal(0, 0.3, rows)
    pressure = 990 + np.cumsum(rng.normal(0, 0.05, rows))
    dew = temperature - rng.uniform(1, 6, rows)
    vp_max = 6.1 * np.exp(17.6 * temperature / (temperature + 243))
    vp_act = 6.1 * np.exp(17.6 * dew / (dew + 243))
    wind = np.abs(rng.normal(2, 1, rows))
    return {
        "p (mbar)": pressure,
        "T (degC)": temperature,
        "Tpot (K)": temperature + 273.15 + (1000 - pressure) * 0.08,
        "Tdew (degC)": dew,
        "rh (%)": 100 * vp_act / vp_max,
        "VPmax (mbar)": vp_max,
        "VPact (mbar)": vp_act,
        "VPdef (mbar)": vp_max - vp_act,
        "sh (g/kg)": 622 * vp_act / pressure,
        "H2OC (mmol/mol)": 1000 * vp_act / pressure,
        "rho (g/m**3)": 1290 - 4 * temperature + rng.normal(0, 1, rows),
        "wv (m/s)": wind,
        "max. wv (m/s)": wind + np.abs(rng.normal(1, 0.5, rows)),
        "wd (deg)": rng.uniform(0, 360, rows),
    }


def jena_dates(rows: int) -> list[str]:
    """``dd.mm.yyyy HH:MM:SS`` every 10 minutes from 01.01.2009 00:10:00, as in the real file."""
    times = np.datetime64("2009-01-01T00:10") + np.arange(rows) * np.timedelta64(10, "m")
    return [f"{t[8:10]}.{t[5:7]}.{t[0:4]} {t[11:16]}:00" for t in np.datetime_as_string(times, unit="m")]


def write_jena_csv(
    path: Path,
    rows: int = 3000,
    zipped: bool = False,
    seed: int = 0,
    columns: Sequence[str] = JENA_HEADER,
) -> Path:
    """A Jena climate CSV: quoted header, unquoted dates and 2-decimal values, no final newline (as the real file).

    ``columns`` reorders (or drops) columns. ``zipped=True`` writes ``path`` as a zip holding
    ``jena_climate_2009_2016.csv``, as the download is. Returns ``path``.
    """
    weather = jena_weather(rows, seed)
    cells = {"Date Time": jena_dates(rows)}
    cells.update({name: [f"{value:.2f}" for value in values] for name, values in weather.items()})
    lines = [",".join(f'"{name}"' for name in columns)]
    lines += [",".join(cells[name][row] for name in columns) for row in range(rows)]
    text = "\n".join(lines)
    path = Path(path)
    if zipped:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("jena_climate_2009_2016.csv", text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# A small Jena for end-to-end runs on a write_jena_csv file of 12,000 rows: 3.3 days back, hourly (80
# timesteps, enough for the 1D convnets), 4 hours ahead. `++` because Hydra checks a sweep's overrides
# against the default experiment (Boston housing) first, whose dataset has no such keys.
SMALL_JENA = [
    "++dataset.lookback=480",
    "++dataset.step=6",
    "++dataset.delay=24",
    "++dataset.train_rows=[0,6000]",
    "++dataset.validation_rows=[6001,9000]",
    "++dataset.test_rows=[9001,null]",
    "++dataset.normalize_rows=6000",
]
