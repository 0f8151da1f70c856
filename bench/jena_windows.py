"""Benchmark: Jena windows per second, dlbook's tf.data pipeline against the book's Python generator.

Both cut the book's training windows (lookback 1440, step 6, 14 features, batch 128, rows drawn at
random) from the same synthetic Jena-format CSV (60,000 rows by default). The book's generator
(listing 6.33, transcribed) fills each window in a Python loop; dlbook gathers a whole batch with one
``tf.gather`` inside tf.data. A plain NumPy gather is timed as well, for reference. The three run
interleaved, several repeats; each figure is the median. Also times parsing a full-size
(420,551-row) CSV, dlbook's reader against the book's line-splitting code.

Usage: python bench/jena_windows.py [--rows 60000] [--repeats 5] [--batches 200]
                                     [--out bench/results/jena_windows.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FULL_ROWS = 420_551
HEADER = (
    '"Date Time","p (mbar)","T (degC)","Tpot (K)","Tdew (degC)","rh (%)","VPmax (mbar)","VPact (mbar)",'
    '"VPdef (mbar)","sh (g/kg)","H2OC (mmol/mol)","rho (g/m**3)","wv (m/s)","max. wv (m/s)","wd (deg)"'
)
LOOKBACK, STEP, DELAY, BATCH = 1440, 6, 144, 128


def write_csv(path: Path, rows: int, seed: int = 0) -> Path:
    """A Jena-format CSV: the real header, ``dd.mm.yyyy HH:MM:SS`` dates, 2-decimal values, a daily cycle."""
    rng = np.random.RandomState(seed)
    time_of_day = 2 * np.pi * (np.arange(rows) % 144) / 144
    base = rng.uniform(1, 100, size=14) * np.sign(rng.uniform(-1, 2, size=14))
    values = base + 5 * np.sin(time_of_day)[:, None] * rng.uniform(0.1, 1, size=14) + rng.normal(0, 0.5, (rows, 14))
    stamps = np.datetime_as_string(np.datetime64("2009-01-01T00:10") + np.arange(rows) * np.timedelta64(10, "m"))
    line = "%s," + ",".join(["%.2f"] * 14)
    with open(path, "w") as stream:
        stream.write(HEADER)
        for stamp, row in zip(stamps, values.tolist(), strict=True):
            date = f"{stamp[8:10]}.{stamp[5:7]}.{stamp[0:4]} {stamp[11:16]}:00"
            stream.write("\n" + line % (date, *row))
    return path


def book_parse(path: Path) -> np.ndarray:
    """The book's parsing (listing 6.28/6.32)."""
    lines = path.read_text().split("\n")
    header, lines = lines[0].split(","), lines[1:]
    float_data = np.zeros((len(lines), len(header) - 1))
    for i, line in enumerate(lines):
        float_data[i, :] = [float(x) for x in line.split(",")[1:]]
    return float_data


def book_generator(data, lookback, delay, min_index, max_index, shuffle=False, batch_size=128, step=6):
    """The book's generator (listing 6.33), transcribed."""
    if max_index is None:
        max_index = len(data) - delay - 1
    i = min_index + lookback
    while 1:
        if shuffle:
            rows = np.random.randint(min_index + lookback, max_index, size=batch_size)
        else:
            if i + batch_size >= max_index:
                i = min_index + lookback
            rows = np.arange(i, min(i + batch_size, max_index))
            i += len(rows)
        samples = np.zeros((len(rows), lookback // step, data.shape[-1]))
        targets = np.zeros((len(rows),))
        for j, _row in enumerate(rows):
            indices = range(rows[j] - lookback, rows[j], step)
            samples[j] = data[indices]
            targets[j] = data[rows[j] + delay][1]
        yield samples, targets


def windows_per_second(batches, count: int) -> float:
    """Windows per second over ``count`` batches of the iterator ``batches`` (after one warm-up batch)."""
    next(batches)
    start = time.perf_counter()
    windows = 0
    for _ in range(count):
        windows += len(next(batches)[1])
    return windows / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60_000, help="rows of the CSV the windows come from")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batches", type=int, default=200, help="batches of 128 timed per measurement")
    parser.add_argument("--full-rows", type=int, default=FULL_ROWS, help="rows of the CSV whose parse is timed")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "jena_windows.json")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    from dlbook.datasets import jena_climate

    with tempfile.TemporaryDirectory() as folder:
        csv_file = write_csv(Path(folder) / "jena.csv", args.rows)
        train_end = args.rows * 2 // 3
        data = jena_climate.load(
            path=str(csv_file),
            train_rows=[0, train_end],
            validation_rows=[train_end + 1, args.rows * 5 // 6],
            test_rows=[args.rows * 5 // 6 + 1, None],
            normalize_rows=train_end,
        )
        book_data = book_parse(csv_file)
        book_data -= book_data[:train_end].mean(axis=0)
        book_data /= book_data[:train_end].std(axis=0)
        resident = data.make_pipeline.data
        offsets = np.arange(-LOOKBACK, 0, STEP)
        rng = np.random.RandomState(0)

        def numpy_batches():
            while True:
                rows = rng.randint(LOOKBACK, train_end, size=BATCH)
                yield resident[rows[:, None] + offsets], resident[rows + DELAY, 1]

        timings: dict[str, list[float]] = {"dlbook tf.data gather": [], "book generator": [], "numpy gather": []}
        for repeat in range(args.repeats):
            pipeline = data.make_pipeline(data.train, BATCH, shuffle=True, seed=repeat, training=True)
            timings["dlbook tf.data gather"].append(windows_per_second(iter(pipeline.repeat()), args.batches))
            book = book_generator(book_data, LOOKBACK, DELAY, 0, train_end, shuffle=True, batch_size=BATCH, step=STEP)
            timings["book generator"].append(windows_per_second(book, args.batches))
            timings["numpy gather"].append(windows_per_second(numpy_batches(), args.batches))

        full_csv = write_csv(Path(folder) / "jena_full.csv", args.full_rows, seed=1)
        parse_seconds = []
        for _ in range(3):
            start = time.perf_counter()
            parsed = jena_climate.read_csv(full_csv)
            parse_seconds.append(time.perf_counter() - start)
        start = time.perf_counter()
        book_parsed = book_parse(full_csv)
        book_parse_seconds = time.perf_counter() - start
        assert parsed.shape == (args.full_rows, 14) and np.array_equal(parsed, book_parsed)

    medians = {name: statistics.median(values) for name, values in timings.items()}
    ratio = medians["dlbook tf.data gather"] / medians["book generator"]
    print(f"Jena windows (lookback {LOOKBACK}, step {STEP}, 14 features, batch {BATCH}), {args.rows} CSV rows,")
    print(f"median of {args.repeats} interleaved repeats of {args.batches} batches:")
    print(f"{'way':<24}{'windows/s':>12}   all repeats")
    for name, values in timings.items():
        print(f"{name:<24}{medians[name]:>12,.0f}   {', '.join(f'{value:,.0f}' for value in values)}")
    print(f"dlbook / book: {ratio:.1f}x")
    parse_median = statistics.median(parse_seconds)
    print(f"Parse of a {args.full_rows:,}-row CSV: dlbook {parse_median:.2f} s (median of 3), ", end="")
    print(f"book {book_parse_seconds:.2f} s")

    result = {
        "benchmark": f"jena_windows (lookback {LOOKBACK}, step {STEP}, batch {BATCH}; windows per second)",
        "dlbook_windows_per_second": medians["dlbook tf.data gather"],
        "book_generator_windows_per_second": medians["book generator"],
        "numpy_gather_windows_per_second": medians["numpy gather"],
        "ratio_dlbook_over_book": ratio,
        "repeats": args.repeats,
        "batches_per_repeat": args.batches,
        "csv_rows": args.rows,
        "full_csv_rows": args.full_rows,
        "dlbook_parse_seconds": parse_median,
        "book_parse_seconds": book_parse_seconds,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
