"""The book's split of Kaggle's files, listing class folders, and finding bad images."""

import json
import logging
import os

import numpy as np
import pytest
from fake_images import class_image, write_image, write_kaggle_train, write_split_tree

from dlbook.datasets.io import image_folder
from dlbook.datasets.io.image_folder import (
    BOOK_RANGES,
    SPLIT_STAMP,
    book_split,
    drop_bad_images,
    is_kaggle_folder,
    list_split,
)
from dlbook.errors import ConfigError, DatasetFormatError, DatasetUnavailableError

SMALL_RANGES = {"train": (0, 4), "validation": (4, 6), "test": (6, 8)}


def touch_kaggle_files(folder, per_class):
    """Empty cat.N.jpg / dog.N.jpg files: the split builder only links them, never decodes them."""
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(per_class):
        for prefix in ("cat", "dog"):
            (folder / f"{prefix}.{number}.jpg").write_bytes(f"{prefix}{number}".encode())
    return folder


def tree_listing(root):
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file() and not path.name.startswith(".")}


def test_book_ranges_are_the_books():
    assert BOOK_RANGES == {"train": (0, 1000), "validation": (1000, 1500), "test": (1500, 2000)}


def test_default_split_puts_exactly_the_books_files_in_each_folder(tmp_path):
    source = touch_kaggle_files(tmp_path / "train", 2100)
    tree = book_split(source, tmp_path / "small")

    for split, (start, stop) in BOOK_RANGES.items():
        for folder, prefix in (("cats", "cat"), ("dogs", "dog")):
            names = {path.name for path in (tree / split / folder).iterdir()}
            assert names == {f"{prefix}.{number}.jpg" for number in range(start, stop)}
    assert len(tree_listing(tree)) == 4000
    assert (tree / "test" / "dogs" / "dog.1999.jpg").read_bytes() == b"dog1999"


def test_small_ranges_and_hard_links(tmp_path):
    source = touch_kaggle_files(tmp_path / "train", 10)
    tree = book_split(source, tmp_path / "small", ranges=SMALL_RANGES)

    assert tree_listing(tree) == {
        *(f"train/cats/cat.{n}.jpg" for n in range(4)),
        *(f"train/dogs/dog.{n}.jpg" for n in range(4)),
        "validation/cats/cat.4.jpg",
        "validation/cats/cat.5.jpg",
        "validation/dogs/dog.4.jpg",
        "validation/dogs/dog.5.jpg",
        "test/cats/cat.6.jpg",
        "test/cats/cat.7.jpg",
        "test/dogs/dog.6.jpg",
        "test/dogs/dog.7.jpg",
    }
    # Hard links: the same file, no copy.
    assert os.stat(tree / "train" / "cats" / "cat.0.jpg").st_ino == os.stat(source / "cat.0.jpg").st_ino
    stamp = json.loads((tree / SPLIT_STAMP).read_text())
    assert stamp["source"] == str(source.resolve()) and stamp["source_files"] == 20
    # Nothing is left of the temporary build folder.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["small", "train"]


def test_a_complete_tree_is_reused(tmp_path, monkeypatch):
    source = touch_kaggle_files(tmp_path / "train", 10)
    tree = book_split(source, tmp_path / "small", ranges=SMALL_RANGES)

    def no_link(*args):
        raise AssertionError("the tree should have been reused")

    monkeypatch.setattr(image_folder.os, "link", no_link)
    monkeypatch.setattr(image_folder.shutil, "copy2", no_link)
    assert book_split(source, tmp_path / "small", ranges=SMALL_RANGES) == tree


def test_a_tree_from_another_source_is_rebuilt(tmp_path):
    first = touch_kaggle_files(tmp_path / "first", 10)
    second = tmp_path / "second"
    second.mkdir()
    for number in range(10):
        for prefix in ("cat", "dog"):
            (second / f"{prefix}.{number}.jpg").write_bytes(b"second")
    target = tmp_path / "small"
    book_split(first, target, ranges=SMALL_RANGES)
    book_split(second, target, ranges=SMALL_RANGES)

    assert (target / "train" / "cats" / "cat.0.jpg").read_bytes() == b"second"
    assert json.loads((target / SPLIT_STAMP).read_text())["source"] == str(second.resolve())


def test_an_incomplete_tree_is_rebuilt(tmp_path):
    source = touch_kaggle_files(tmp_path / "train", 10)
    tree = book_split(source, tmp_path / "small", ranges=SMALL_RANGES)
    (tree / "test" / "dogs" / "dog.7.jpg").unlink()
    book_split(source, tree, ranges=SMALL_RANGES)
    assert (tree / "test" / "dogs" / "dog.7.jpg").is_file()


def test_copies_when_hard_links_fail(tmp_path, monkeypatch):
    source = touch_kaggle_files(tmp_path / "train", 10)

    def cross_device(*args):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(image_folder.os, "link", cross_device)
    tree = book_split(source, tmp_path / "small", ranges=SMALL_RANGES)
    copied = tree / "train" / "dogs" / "dog.3.jpg"
    assert copied.read_bytes() == b"dog3"
    assert os.stat(copied).st_ino != os.stat(source / "dog.3.jpg").st_ino


def test_an_interrupted_build_leaves_no_tree(tmp_path, monkeypatch):
    source = touch_kaggle_files(tmp_path / "train", 10)
    real_link = os.link
    calls = {"count": 0}

    def failing_link(source_file, target_file):
        calls["count"] += 1
        if calls["count"] == 5:
            raise KeyboardInterrupt
        real_link(source_file, target_file)

    monkeypatch.setattr(image_folder.os, "link", failing_link)
    with pytest.raises(KeyboardInterrupt):
        book_split(source, tmp_path / "small", ranges=SMALL_RANGES)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["train"]


def test_missing_source_files_name_the_folder_file_and_key(tmp_path):
    source = touch_kaggle_files(tmp_path / "train", 10)
    (source / "dog.5.jpg").unlink()
    with pytest.raises(DatasetUnavailableError) as caught:
        book_split(source, tmp_path / "small", ranges=SMALL_RANGES)
    message = str(caught.value)
    assert str(source) in message and "dog.5.jpg" in message and "dataset.path" in message
    assert not (tmp_path / "small").exists()


def test_missing_source_folder(tmp_path):
    with pytest.raises(DatasetUnavailableError, match="dataset.path"):
        book_split(tmp_path / "nowhere", tmp_path / "small")


def test_is_kaggle_folder(tmp_path):
    assert is_kaggle_folder(touch_kaggle_files(tmp_path / "train", 1))
    assert not is_kaggle_folder(write_split_tree(tmp_path / "tree", 1, size=(8, 8)))
    assert not is_kaggle_folder(tmp_path / "nowhere")


def test_list_split_sorts_classes_and_files(tmp_path):
    tree = write_split_tree(tmp_path, {"train": 3}, size=(8, 8))
    (tree / "train" / "cats" / "notes.txt").write_text("not an image")
    (tree / "train" / "dogs" / ".hidden.jpg").write_bytes(b"")

    paths, labels, class_names = list_split(tree / "train")

    assert class_names == ["cats", "dogs"]
    assert [os.path.relpath(path, tree / "train") for path in paths] == [
        "cats/cats.0.jpg",
        "cats/cats.1.jpg",
        "cats/cats.2.jpg",
        "dogs/dogs.0.jpg",
        "dogs/dogs.1.jpg",
        "dogs/dogs.2.jpg",
    ]
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1, 1])
    assert labels.dtype == np.int32 and paths.dtype.kind == "U"


def test_list_split_with_given_class_names(tmp_path):
    tree = write_split_tree(tmp_path, {"train": 2}, size=(8, 8))
    _, labels, class_names = list_split(tree / "train", ["dogs", "cats"])
    assert class_names == ["dogs", "cats"]
    np.testing.assert_array_equal(labels, [0, 0, 1, 1])
    with pytest.raises(DatasetFormatError, match="'birds'"):
        list_split(tree / "train", ["cats", "birds"])


def test_list_split_errors_name_the_folder(tmp_path):
    with pytest.raises(DatasetUnavailableError, match="does not exist"):
        list_split(tmp_path / "train")
    (tmp_path / "train").mkdir()
    with pytest.raises(DatasetFormatError, match="no class sub-folders"):
        list_split(tmp_path / "train")
    (tmp_path / "train" / "cats").mkdir()
    write_image(tmp_path / "train" / "dogs" / "dog.0.jpg", class_image(1, (8, 8)))
    with pytest.raises(DatasetFormatError) as caught:
        list_split(tmp_path / "train")
    assert str(tmp_path / "train" / "cats") in str(caught.value) and "no images" in str(caught.value)


@pytest.fixture
def bad_tree(tmp_path):
    tree = write_split_tree(tmp_path / "tree", {"train": 3}, size=(16, 16))
    cats = tree / "train" / "cats"
    (cats / "cats.0.jpg").write_bytes(b"")  # zero bytes
    (cats / "cats.1.jpg").write_bytes(b"this is not a JPEG at all")  # undecodable
    good = (tree / "train" / "dogs" / "dogs.0.jpg").read_bytes()
    (tree / "train" / "dogs" / "dogs.1.jpg").write_bytes(good[: len(good) // 2])  # truncated
    return tree


def test_bad_images_fail_naming_the_file_and_key(bad_tree):
    paths, labels, _ = list_split(bad_tree / "train")
    with pytest.raises(DatasetFormatError) as caught:
        drop_bad_images(paths, labels, "fail")
    message = str(caught.value)
    assert str(bad_tree / "train" / "cats" / "cats.0.jpg") in message
    assert "0 bytes" in message and "dataset.on_bad_image" in message and "2 more" in message


def test_bad_images_are_skipped_with_a_warning_each(bad_tree, caplog):
    paths, labels, _ = list_split(bad_tree / "train")
    with caplog.at_level(logging.WARNING, logger="dlbook"):
        kept_paths, kept_labels = drop_bad_images(paths, labels, "skip")

    assert [os.path.basename(path) for path in kept_paths] == ["cats.2.jpg", "dogs.0.jpg", "dogs.2.jpg"]
    np.testing.assert_array_equal(kept_labels, [0, 1, 1])
    warnings = "\n".join(record.getMessage() for record in caplog.records)
    for name in ("cats/cats.0.jpg", "cats/cats.1.jpg", "dogs/dogs.1.jpg"):
        assert name in warnings
    assert "truncated" in warnings.lower()


def test_on_bad_image_must_be_fail_or_skip(tmp_path):
    with pytest.raises(ConfigError, match="dataset.on_bad_image=ignore"):
        drop_bad_images(np.array([], dtype=str), np.array([], dtype=np.int32), "ignore")


def test_real_jpegs_pass_the_check(tmp_path):
    source = write_kaggle_train(tmp_path / "train", 3, size=(20, 30))
    paths = np.array(sorted(str(path) for path in source.iterdir()))
    kept, _ = drop_bad_images(paths, np.zeros(len(paths), dtype=np.int32), "fail")
    assert len(kept) == 6
