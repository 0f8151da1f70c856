"""The image pipeline: decode once, shuffle per epoch, augment training batches, scale."""

import numpy as np
import pytest
from fake_images import write_split_tree

from dlbook.datasets.io import image_pipeline
from dlbook.datasets.io.examples import Examples
from dlbook.datasets.io.image_folder import list_split
from dlbook.datasets.io.image_pipeline import make_image_pipeline
from dlbook.errors import ConfigError, DatasetFormatError

VGG_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return write_split_tree(tmp_path_factory.mktemp("images"), {"train": 5}, size=(24, 32))


@pytest.fixture
def examples(tree):
    paths, labels, _ = list_split(tree / "train")
    return Examples(paths, labels.astype(np.float32))


def epoch(dataset):
    """All batches of one pass, joined: (images, targets)."""
    images, targets = zip(*[(x.numpy(), y.numpy()) for x, y in dataset], strict=True)
    return np.concatenate(images), np.concatenate(targets)


def book_layers(seed):
    import keras

    return [
        keras.layers.RandomRotation(40 / 360, fill_mode="nearest", seed=seed),
        keras.layers.RandomTranslation(0.2, 0.2, fill_mode="nearest", seed=seed),
        keras.layers.RandomShear(x_factor=0.0, y_factor=0.1987, fill_mode="nearest", seed=seed),
        keras.layers.RandomZoom(0.2, 0.2, fill_mode="nearest", seed=seed),
        keras.layers.RandomFlip("horizontal", seed=seed),
    ]


def test_batches_have_the_shapes_dtypes_and_range_of_the_book(examples):
    pipeline = make_image_pipeline((16, 20))
    batches = list(pipeline(examples, 4, shuffle=False))

    assert [len(x) for x, _ in batches] == [4, 4, 2]
    images, targets = epoch(batches)
    assert images.shape == (10, 16, 20, 3) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0 and images.max() > 0.5
    assert targets.dtype == np.float32
    np.testing.assert_array_equal(targets, examples.targets)


def test_decoding_equals_pil(examples):
    from PIL import Image

    images, _ = epoch(make_image_pipeline((24, 32), rescale=None)(examples, 3, shuffle=False))
    for index in (0, 7):
        expected = np.asarray(Image.open(examples.features[index]).convert("RGB"))
        np.testing.assert_array_equal(images[index], expected)


def test_vgg16_preprocess_is_bgr_minus_the_imagenet_mean(examples):
    raw, _ = epoch(make_image_pipeline((16, 16), rescale=None)(examples, 4, shuffle=False))
    vgg, _ = epoch(make_image_pipeline((16, 16), preprocess="vgg16")(examples, 4, shuffle=False))

    np.testing.assert_allclose(vgg, raw[..., ::-1] - VGG_MEAN_BGR, atol=1e-4)
    assert vgg.min() < -50 and vgg.max() > 50


def test_multi_class_targets_keep_their_integer_dtype(examples):
    integer = Examples(examples.features, np.arange(10, dtype=np.int32) % 3)
    _, targets = epoch(make_image_pipeline((8, 8))(integer, 4, shuffle=False))
    assert targets.dtype == np.int32


def test_shuffling_is_seeded_and_differs_per_epoch(examples):
    pipeline = make_image_pipeline((8, 8))
    first = pipeline(examples, 4, shuffle=True, seed=3)
    second = pipeline(examples, 4, shuffle=True, seed=3)

    epoch_one, epoch_two = epoch(first)[0], epoch(first)[0]
    np.testing.assert_array_equal(epoch_one, epoch(second)[0])
    assert not np.array_equal(epoch_one, epoch_two)
    # Every epoch is a permutation of the same images.
    ordered = epoch(pipeline(examples, 4, shuffle=False))[0]
    assert sorted(map(bytes, epoch_two)) == sorted(map(bytes, ordered))


def test_images_are_decoded_once_per_pipeline(tmp_path):
    tree = write_split_tree(tmp_path, {"train": 3}, size=(16, 16))
    paths, labels, _ = list_split(tree / "train")
    dataset = make_image_pipeline((16, 16))(Examples(paths, labels), 4, shuffle=True, seed=0)
    first = epoch(dataset)[0]

    for path in paths:
        (tree / path).unlink()
    second = epoch(dataset)[0]
    assert sorted(map(bytes, first)) == sorted(map(bytes, second))


def test_augmentation_changes_training_batches_only(examples):
    plain = epoch(make_image_pipeline((16, 16))(examples, 4, shuffle=False))[0]
    augmented = make_image_pipeline((16, 16), augmentation=book_layers(seed=1))

    evaluation = epoch(augmented(examples, 4, shuffle=False, training=False))[0]
    np.testing.assert_array_equal(evaluation, plain)
    training = epoch(augmented(examples, 4, shuffle=False, training=True))[0]
    assert training.shape == plain.shape and training.dtype == np.float32
    assert not np.allclose(training, plain)
    assert 0.0 <= training.min() and training.max() <= 1.0


@pytest.mark.parametrize("slices", [1, 3])
def test_augmentation_is_deterministic_given_the_layer_seeds(examples, monkeypatch, slices):
    monkeypatch.setattr(image_pipeline, "_augment_slices", lambda: slices)

    def run():
        pipeline = make_image_pipeline((16, 16), augmentation=book_layers(seed=7))
        dataset = pipeline(examples, 4, shuffle=True, seed=5, training=True)
        return epoch(dataset)[0], epoch(dataset)[0]

    first, second = run(), run()
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], first[1])


def test_undecodable_file_is_named(tmp_path, examples):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    broken = Examples(np.array([examples.features[0], str(bad)]), np.zeros(2, dtype=np.float32))
    with pytest.raises(DatasetFormatError, match="bad.jpg"):
        make_image_pipeline((8, 8))(broken, 2, shuffle=False)


def test_settings_leave_out_rescale_when_vgg16_replaces_it():
    assert make_image_pipeline([150, 150]).settings() == {
        "image_size": [150, 150],
        "rescale": 1 / 255,
        "preprocess": "none",
        "interpolation": "bilinear",
        "antialias": False,
    }
    assert make_image_pipeline([150, 150], preprocess="vgg16").settings()["rescale"] is None


@pytest.mark.parametrize(
    ("arguments", "key"),
    [
        ({"image_size": [150]}, "dataset.image_size"),
        ({"image_size": [150, 0]}, "dataset.image_size"),
        ({"image_size": "150x150"}, "dataset.image_size"),
        ({"image_size": [150.0, 150]}, "dataset.image_size"),
        ({"rescale": -1.0}, "dataset.rescale"),
        ({"preprocess": "imagenet"}, "dataset.preprocess"),
        ({"interpolation": "cubic"}, "dataset.interpolation"),
        ({"antialias": "yes"}, "dataset.antialias"),
        ({"augmentation": ["RandomFlip"]}, "dataset.augmentation"),
    ],
)
def test_invalid_settings_name_the_key(arguments, key):
    settings = {"image_size": [150, 150], **arguments}
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        make_image_pipeline(**settings)


def test_book_augmentation_runs_in_parallel_yet_repeats_for_a_seed_and_varies_per_epoch(examples):
    from dlbook.datasets.io.augmentation import book_augmentation

    def epochs(seed):
        layer = book_augmentation(rotation_range=40, zoom_range=0.2, horizontal_flip=True)
        pipeline = make_image_pipeline((32, 32), augmentation=[layer])
        dataset = pipeline(examples, 4, shuffle=True, seed=seed, training=True)
        return [np.concatenate([images.numpy() for images, _ in dataset]) for _ in range(2)]

    first_epoch, second_epoch = epochs(seed=7)
    again_first, again_second = epochs(seed=7)
    np.testing.assert_array_equal(first_epoch, again_first)
    np.testing.assert_array_equal(second_epoch, again_second)
    assert not np.array_equal(first_epoch, second_epoch)
