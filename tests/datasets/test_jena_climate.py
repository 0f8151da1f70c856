"""Jena climate: CSV parsing by column name, normalization, and windows equal to the book's generator."""

import zipfile

import numpy as np
import pytest
from fake_text import JENA_HEADER, write_jena_csv
from fakes import assert_config_matches

from dlbook.datasets import jena_climate
from dlbook.errors import ConfigError, DatasetFormatError

ROWS = 3000
# A small version of the book's setup: 1 day back, hourly, 4 hours ahead; the book's batch of 128.
SMALL = dict(
    lookback=144,
    step=6,
    delay=24,
    train_rows=[0, 1500],
    validation_rows=[1501, 2200],
    test_rows=[2201, None],
    normalize_rows=1500,
)


def book_parse(path):
    """The book's parsing (listing 6.28/6.32): split lines and commas, drop the date."""
    lines = path.read_text().split("\n")
    header, lines = lines[0].split(","), lines[1:]
    float_data = np.zeros((len(lines), len(header) - 1))
    for i, line in enumerate(lines):
        float_data[i, :] = [float(x) for x in line.split(",")[1:]]
    return float_data


def book_normalized(path, normalize_rows):
    float_data = book_parse(path)
    mean = float_data[:normalize_rows].mean(axis=0)
    float_data -= mean
    std = float_data[:normalize_rows].std(axis=0)
    return float_data / std


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


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory):
    return write_jena_csv(tmp_path_factory.mktemp("jena") / "jena_climate_2009_2016.csv", rows=ROWS, seed=1)


@pytest.fixture(scope="module")
def jena(csv_file):
    return jena_climate.load(path=str(csv_file), **SMALL)


def batches(data, examples, batch_size=128, **options):
    """The (windows, targets) batches of the dataset's own pipeline, as NumPy."""
    options = {"shuffle": False, "seed": None, "training": False, **options}
    return [(x.numpy(), y.numpy()) for x, y in data.make_pipeline(examples, batch_size, **options)]


def test_parses_the_columns_like_the_book(csv_file, tmp_path):
    expected = book_parse(csv_file)
    np.testing.assert_array_equal(jena_climate.read_csv(csv_file), expected)
    zipped = write_jena_csv(tmp_path / "jena_climate_2009_2016.csv.zip", rows=ROWS, seed=1, zipped=True)
    np.testing.assert_array_equal(jena_climate.read_csv(zipped), expected)


def test_columns_are_found_by_name(csv_file, tmp_path):
    shuffled = list(JENA_HEADER[1:])
    np.random.RandomState(0).shuffle(shuffled)
    reordered = write_jena_csv(tmp_path / "reordered.csv", rows=ROWS, seed=1, columns=[*shuffled, "Date Time"])
    np.testing.assert_array_equal(jena_climate.read_csv(reordered), book_parse(csv_file))


def test_zip_from_macos_ignores_resource_files(csv_file, tmp_path):
    archive = tmp_path / "jena.zip"
    with zipfile.ZipFile(archive, "w") as output:
        output.writestr("__MACOSX/._jena_climate_2009_2016.csv", b"\x00\x05\x16\x07 binary")
        output.write(csv_file, "jena_climate_2009_2016.csv")
    np.testing.assert_array_equal(jena_climate.read_csv(archive), book_parse(csv_file))


def test_missing_column_lists_what_is_missing_and_found(tmp_path):
    columns = [name for name in JENA_HEADER if name != "rh (%)"]
    file = write_jena_csv(tmp_path / "jena.csv", rows=50, columns=columns)
    with pytest.raises(DatasetFormatError, match=r"lacks the column\(s\) rh \(%\); its header has: Date Time, p"):
        jena_climate.load(path=str(file), **SMALL)


def test_non_numeric_cell_names_line_and_column(tmp_path):
    file = write_jena_csv(tmp_path / "jena.csv", rows=50)
    lines = file.read_text().split("\n")
    cells = lines[20].split(",")
    cells[3] = "n/a"  # Tpot (K) of data row 20, line 21
    lines[20] = ",".join(cells)
    file.write_text("\n".join(lines))
    with pytest.raises(DatasetFormatError, match=r"line 21 \(data row 20\), column Tpot \(K\): 'n/a' is not a number"):
        jena_climate.read_csv(file)


def test_normalizes_with_the_first_rows_only(csv_file, jena):
    raw = book_parse(csv_file)
    normalized = book_normalized(csv_file, 1500)
    assert jena.info["target_mean"] == pytest.approx(raw[:1500, 1].mean())
    assert jena.info["target_std"] == pytest.approx(raw[:1500, 1].std())
    assert jena.info["target_std"] != pytest.approx(raw[:, 1].std())
    windows, _ = batches(jena, jena.test)[0]
    first_row = 2201 + 144
    np.testing.assert_allclose(windows[0], normalized[first_row - 144 : first_row : 6], rtol=1e-5, atol=1e-5)


def test_validation_windows_equal_the_book_generator(csv_file, jena):
    data = book_normalized(csv_file, 1500)
    steps = (2200 - 1501 - 144) // 128
    assert len(jena.validation) == steps * 128 == 512
    book = book_generator(data, 144, 24, 1501, 2200, batch_size=128, step=6)
    for samples, targets in batches(jena, jena.validation):
        expected_samples, expected_targets = next(book)
        np.testing.assert_allclose(samples, expected_samples, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(targets, expected_targets, rtol=1e-5, atol=1e-5)
    assert jena.input_shape == (24, 14)


@pytest.mark.parametrize(("lookback", "step", "delay"), [(30, 1, 0), (96, 4, 7), (150, 15, 144)])
def test_other_window_shapes_equal_the_book_generator(csv_file, lookback, step, delay):
    data = book_normalized(csv_file, 1500)
    jena = jena_climate.load(path=str(csv_file), **{**SMALL, "lookback": lookback, "step": step, "delay": delay})
    assert jena.input_shape == (lookback // step, 14)
    book = book_generator(data, lookback, delay, 1501, 2200, batch_size=128, step=step)
    for samples, targets in batches(jena, jena.validation)[:2]:
        expected_samples, expected_targets = next(book)
        np.testing.assert_allclose(samples, expected_samples, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(targets, expected_targets, rtol=1e-5, atol=1e-5)


def test_test_rows_wrap_like_the_book_generator(jena):
    # max_index = 3000 - 24 - 1 = 2975; the book runs (3000 - 2201 - 144) // 128 = 5 steps, but only 4 full
    # batches fit before its generator wraps back to the first row, so the 5th batch repeats the 1st.
    rows = jena.test.features
    assert len(rows) == 5 * 128
    np.testing.assert_array_equal(rows[:512], np.arange(2345, 2345 + 512))
    np.testing.assert_array_equal(rows[512:], rows[:128])


def test_the_books_split_sizes_on_the_full_file():
    window = jena_climate.Window(lookback=1440, step=6, delay=144)
    validation = jena_climate.sequential_rows(200001, 300000, window=window, count=420551, batch_size=128)
    assert len(validation) == 769 * 128 == 98432  # val_steps = (300000 - 200001 - 1440) // 128
    np.testing.assert_array_equal(validation[[0, -1]], [201441, 201441 + 98431])
    test = jena_climate.sequential_rows(300001, None, window=window, count=420551, batch_size=128)
    assert len(test) == 930 * 128  # test_steps = (420551 - 300001 - 1440) // 128, the last batch wraps
    np.testing.assert_array_equal(test[-128:], test[:128])
    train = jena_climate.training_rows(0, 200000, window=window, count=420551)
    np.testing.assert_array_equal(train[[0, -1]], [1440, 199999])


def test_training_windows_equal_the_book_generator_for_the_same_rows(csv_file, jena):
    data = book_normalized(csv_file, 1500)
    # Every row the book's np.random.randint(min_index + lookback, max_index) can draw, and only those.
    np.testing.assert_array_equal(jena.train.features, np.arange(144, 1500))
    np.random.seed(3)
    expected_samples, expected_targets = next(book_generator(data, 144, 24, 0, 1500, shuffle=True, step=6))
    np.random.seed(3)
    rows = np.random.randint(144, 1500, size=128)
    [(samples, targets)] = batches(jena, jena.train.take(rows - 144))
    np.testing.assert_allclose(samples, expected_samples, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(targets, expected_targets, rtol=1e-5, atol=1e-5)


def test_shuffled_training_passes_see_every_window_once_in_a_new_order(jena):
    def two_passes(seed):
        pipeline = jena.make_pipeline(jena.train, 100, shuffle=True, seed=seed, training=True)
        targets = np.concatenate([y.numpy() for _, y in pipeline.repeat(2)])  # the trainer repeats it
        return targets[: len(jena.train)], targets[len(jena.train) :]

    first, second = two_passes(7)
    for one_pass in (first, second):
        np.testing.assert_array_equal(np.sort(one_pass), np.sort(jena.train.targets))
    assert not np.array_equal(first, jena.train.targets) and not np.array_equal(first, second)
    again = two_passes(7)
    np.testing.assert_array_equal(np.concatenate(again), np.concatenate([first, second]))  # the seed fixes it


def test_common_sense_baseline_matches_numpy(csv_file, jena):
    data = book_normalized(csv_file, 1500)
    errors = [np.abs(windows[:, -1, 1] - targets) for windows, targets in batches(jena, jena.validation)]
    ours = np.concatenate(errors).mean()
    # Book 6.3: predict the temperature 24 rows (here) ahead as the last one in the window (row r - step).
    rows = np.arange(1501 + 144, 1501 + 144 + 512)
    expected = np.mean(np.abs(data[rows - 6, 1] - data[rows + 24, 1]))
    assert ours == pytest.approx(expected, rel=1e-5)
    assert jena.info["target_index"] == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            dict(validation_rows=[1501, 1600]),
            r"dataset.validation_rows=\[1501, 1600\] is not valid with dataset.lookback",
        ),
        (dict(train_rows=[0, 2990]), r"dataset.train_rows=\[0, 2990\] .* has no target"),
        (dict(lookback=1500), r"dataset.train_rows=\[0, 1500\] is not valid with dataset.lookback=1500"),
        (dict(lookback=100), r"dataset.lookback=100 is not valid with dataset.step=6"),
        (dict(target="T"), r"dataset.target=T is not valid"),
        (dict(sampling="random"), r"dataset.sampling=random is not valid"),
        (dict(test_rows=[2201]), r"dataset.test_rows=\[2201\] is not valid"),
        (dict(normalize_rows=5000), r"dataset.normalize_rows=5000 is not valid"),
    ],
)
def test_invalid_options_name_the_keys(csv_file, options, message):
    with pytest.raises(ConfigError, match=message):
        jena_climate.load(path=str(csv_file), **{**SMALL, **options})


def test_config_file_spells_out_every_argument():
    assert_config_matches("jena_climate", jena_climate.load)


def test_reverse_feeds_every_window_backwards_in_time(csv_file, jena):
    reversed_data = jena_climate.load(path=str(csv_file), reverse=True, **SMALL)
    forward, _ = batches(jena, jena.validation)[0]
    backward, targets = batches(reversed_data, reversed_data.validation)[0]
    np.testing.assert_array_equal(backward, forward[:, ::-1, :])
    assert reversed_data.info["target_unit"] == "celsius"
