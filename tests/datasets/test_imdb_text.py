"""aclImdb raw text: reading order, the book's split, tokenization and padding, archive extraction."""

import io
import tarfile

import numpy as np
import pytest
from fake_text import write_aclimdb, write_aclimdb_tar
from fakes import assert_config_matches, serve_directory

from dlbook.datasets import imdb_text
from dlbook.datasets.io.download import cache_path
from dlbook.errors import ConfigError, DatasetFormatError

SMALL = dict(training_samples=10, validation_samples=20)


@pytest.fixture(scope="module")
def aclimdb(tmp_path_factory):
    return write_aclimdb(tmp_path_factory.mktemp("text"), per_class=20, test_per_class=8, seed=1)


@pytest.fixture(scope="module")
def loaded(aclimdb):
    return imdb_text.load(path=str(aclimdb), num_words=10000, maxlen=30, seed=4, **SMALL)


def write_reviews(root, texts_by_folder):
    for folder, texts in texts_by_folder.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name, text in texts.items():
            (root / folder / name).write_text(text, encoding="utf-8")
    return root


def test_reads_neg_then_pos_in_sorted_file_order(aclimdb):
    texts, labels = imdb_text.read_split(aclimdb, "train")
    expected = []
    for folder in ("neg", "pos"):
        for file in sorted((aclimdb / "train" / folder).glob("*.txt"), key=lambda path: path.name):
            expected.append(file.read_text(encoding="utf-8"))
    assert texts == expected
    assert labels.tolist() == [0] * 20 + [1] * 20  # unsup/ and labeledBow.feat are ignored


def test_book_split_sizes_and_seeded_shuffle(aclimdb, loaded):
    _, labels = imdb_text.read_split(aclimdb, "train")
    order = np.arange(40)
    np.random.RandomState(4).shuffle(order)
    assert len(loaded.train) == 10 and len(loaded.validation) == 20 and len(loaded.test) == 16
    np.testing.assert_array_equal(loaded.train.targets, labels[order[:10]])
    np.testing.assert_array_equal(loaded.validation.targets, labels[order[10:30]])
    # The test set is all of test/, unshuffled: neg then pos.
    assert loaded.test.targets.tolist() == [0.0] * 8 + [1.0] * 8
    assert loaded.train.features.shape == (10, 30) and loaded.train.features.dtype == np.int32
    assert loaded.input_shape == (30,)
    assert loaded.train.targets.dtype == np.float32


def test_vocabulary_is_lower_case_without_punctuation(loaded):
    vocabulary = loaded.info["vocabulary"]
    assert vocabulary[:2] == ["", "[UNK]"]
    assert loaded.info["num_words"] == len(vocabulary)
    words = vocabulary[2:]
    assert "wonderful" in words and "awful" in words
    assert "br" in words  # what is left of <br /> once punctuation is stripped, as with the book's Tokenizer
    assert all(word == word.lower() and word.isalnum() for word in words)


def test_tokens_by_hand_and_pre_padding(tmp_path):
    long_review = " ".join(f"w{number}" for number in range(12))
    root = write_reviews(
        tmp_path / "aclImdb",
        {
            "train/neg": {"0_1.txt": "The CAT sat. The cat!", "1_2.txt": long_review},
            "train/pos": {"0_9.txt": "A dog, a DOG; the cat?"},
            "test/neg": {"0_3.txt": "the cat and an unseen bird"},
            "test/pos": {"0_8.txt": "dog"},
        },
    )
    data = imdb_text.load(path=str(root), maxlen=5, training_samples=3, validation_samples=0)
    vocabulary = data.info["vocabulary"]
    assert data.validation is None

    def words(row):
        return [vocabulary[index] for index in row]

    train = {tuple(words(row)) for row in data.train.features}
    assert ("the", "cat", "sat", "the", "cat") in train  # lower-cased, punctuation gone, 5 tokens: no padding
    assert ("dog", "a", "dog", "the", "cat") in train  # 6 tokens: the FIRST one is dropped ("pre")
    assert ("w7", "w8", "w9", "w10", "w11") in train  # a long review keeps its last maxlen words
    # Words never seen in training become [UNK]; shorter texts get zeros in front.
    assert words(data.test.features[0]) == ["cat", "[UNK]", "[UNK]", "[UNK]", "[UNK]"]
    assert words(data.test.features[1]) == ["", "", "", "", "dog"]


def test_num_words_caps_the_vocabulary(aclimdb):
    data = imdb_text.load(path=str(aclimdb), num_words=12, maxlen=30, **SMALL)
    assert len(data.info["vocabulary"]) == 12
    assert data.train.features.max() < 12 and data.test.features.max() < 12
    assert (data.train.features == 1).any()  # rarer words are out of vocabulary


def test_archive_is_extracted_once_into_the_cache(tmp_path, keras_home, monkeypatch):
    archive = write_aclimdb_tar(tmp_path / "aclImdb_v1.tar.gz", per_class=6, seed=2)
    calls = []
    extract = imdb_text._extract_reviews
    monkeypatch.setattr(imdb_text, "_extract_reviews", lambda *args: calls.append(args) or extract(*args))

    first = imdb_text.load(path=str(archive), training_samples=4, validation_samples=4)
    second = imdb_text.load(path=str(archive), training_samples=4, validation_samples=4)
    assert len(calls) == 1
    extracted = keras_home / "datasets" / "aclImdb"
    assert (extracted / "train" / "pos").is_dir() and not (extracted / "train" / "unsup").exists()
    assert len(list((extracted / "test" / "neg").glob("*.txt"))) == 6
    assert not [path.name for path in extracted.parent.iterdir() if path.name.startswith(".")]  # no temp left
    np.testing.assert_array_equal(first.train.features, second.train.features)
    assert str(extracted) in second.source


def test_download_then_reuse_without_network(tmp_path, keras_home):
    served = tmp_path / "served"
    served.mkdir()
    write_aclimdb_tar(served / "aclImdb_v1.tar.gz", per_class=5, seed=3)
    with serve_directory(served) as (url, requests):
        options = dict(origin=f"{url}/aclImdb_v1.tar.gz", file_hash=None, training_samples=4, validation_samples=2)
        imdb_text.load(**options)
        data = imdb_text.load(**options)
    assert requests == ["/aclImdb_v1.tar.gz"]
    assert cache_path("aclImdb_v1.tar.gz").is_file()
    assert len(data.test) == 10


@pytest.mark.parametrize("name", ["aclImdb/../../evil.txt", "/tmp/evil.txt"])
def test_path_traversal_is_refused(tmp_path, keras_home, name):
    archive = tmp_path / "aclImdb_v1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for member_name, text in (("aclImdb/train/neg/0_1.txt", b"bad"), (name, b"escaped")):
            info = tarfile.TarInfo(member_name)
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text))
    with pytest.raises(DatasetFormatError, match="unsafe path"):
        imdb_text.load(path=str(archive))
    assert not (tmp_path.parent / "evil.txt").exists()
    assert not (keras_home / "datasets" / "aclImdb").exists()
    assert list((keras_home / "datasets").iterdir()) == []  # the half extraction was removed


def test_missing_folder_is_named(aclimdb, tmp_path):
    root = write_reviews(tmp_path / "aclImdb", {"train/neg": {"0_1.txt": "bad"}, "train/pos": {"0_9.txt": "good"}})
    with pytest.raises(DatasetFormatError, match="test/neg"):
        imdb_text.load(path=str(root))


def test_empty_folder_is_reported(tmp_path):
    root = write_reviews(tmp_path / "aclImdb", {"train/neg": {}, "train/pos": {"0_9.txt": "good"}})
    with pytest.raises(DatasetFormatError, match="no .txt reviews"):
        imdb_text.load(path=str(root))


def test_parent_folder_of_aclimdb_is_accepted(aclimdb):
    data = imdb_text.load(path=str(aclimdb.parent), maxlen=30, seed=4, **SMALL)
    assert len(data.test) == 16


def test_more_samples_than_reviews_is_a_config_error(aclimdb):
    with pytest.raises(ConfigError, match="dataset.training_samples=200"):
        imdb_text.load(path=str(aclimdb))


def test_config_file_spells_out_every_argument():
    assert_config_matches("imdb_text", imdb_text.load)


def test_another_archive_replaces_the_extraction(tmp_path, keras_home):
    first = write_aclimdb_tar(tmp_path / "first" / "aclImdb_v1.tar.gz", per_class=6, seed=2)
    second = write_aclimdb_tar(tmp_path / "second" / "aclImdb_v1.tar.gz", per_class=4, seed=3)
    assert len(imdb_text.load(path=str(first), training_samples=4, validation_samples=4).test) == 12
    assert len(imdb_text.load(path=str(second), training_samples=4, validation_samples=4).test) == 8


def test_debug_limits_read_and_tokenize_only_the_reviews_a_smoke_run_uses(aclimdb, monkeypatch):
    from dlbook.datasets.io.limits import limited_to

    reads = []

    def counting_open(file, *arguments, **keywords):
        if str(file).endswith(".txt"):
            reads.append(str(file))
        return open(file, *arguments, **keywords)

    monkeypatch.setattr(imdb_text, "open", counting_open, raising=False)
    with limited_to(4):  # debug=fast's trainer.max_steps x batch_size
        data = imdb_text.load(path=str(aclimdb), num_words=10000, maxlen=30, seed=4, **SMALL)
    assert (len(data.train), len(data.validation), len(data.test)) == (4, 4, 4)
    assert len(reads) == 12  # 8 training and 4 test reviews, of the 56 in train/ and test/
    assert sorted(set(data.test.targets.tolist())) == [0.0, 1.0]  # spread over neg/ and pos/
