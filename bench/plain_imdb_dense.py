"""The book's listings 3.1-3.10 (IMDB, Dense 16-16-1), a plain Keras script: the peer of `dlbook train experiment=imdb`.

It builds the book's float multi-hot arrays with `vectorize_sequences` (np.zeros: float64, 25,000 x 10,000
for train and for test), fits on 15,000 reviews validating on the first 10,000, then (when asked) retrains
a fresh model on all 25,000 and evaluates it on the test set, as the book does.

Usage: python bench/plain_imdb_dense.py <imdb.npz> <epochs> [<retrain epochs, 0: none>] [--first-step FILE]
(prints a JSON line of epoch seconds; --first-step: bench/first_step's callback, on PYTHONPATH, writes the
time of the first training batch to FILE and ends the process)
"""

import argparse
import json
import time

import keras
import numpy as np
from keras import layers, models

NUM_WORDS = 10000


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def load_data(path: str, num_words: int = NUM_WORDS, seed: int = 113):
    """imdb.load_data(num_words=10000) from a local file: Keras' shuffles, start mark 1, OOV 2, words + 3."""
    with np.load(path, allow_pickle=True) as data:
        x_train, y_train, x_test, y_test = data["x_train"], data["y_train"], data["x_test"], data["y_test"]
    rng = np.random.RandomState(seed)  # one generator: the train permutation first, then the test one
    splits = []
    for x, y in ((x_train, y_train), (x_test, y_test)):
        order = np.arange(len(x))
        rng.shuffle(order)
        reviews = [[1] + [w + 3 if w + 3 < num_words else 2 for w in x[i]] for i in order]
        splits.append((reviews, y[order]))
    return splits


def vectorize_sequences(sequences, dimension=NUM_WORDS):
    results = np.zeros((len(sequences), dimension))
    for i, sequence in enumerate(sequences):
        results[i, sequence] = 1.0
    return results


def build_model():
    model = models.Sequential()
    model.add(keras.Input((NUM_WORDS,)))
    model.add(layers.Dense(16, activation="relu"))
    model.add(layers.Dense(16, activation="relu"))
    model.add(layers.Dense(1, activation="sigmoid"))
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("epochs", type=int)
    parser.add_argument("retrain_epochs", type=int, nargs="?", default=0)
    parser.add_argument("--first-step", default=None)
    arguments = parser.parse_args()
    callbacks = []
    if arguments.first_step:
        from first_step import FirstStep

        callbacks.append(FirstStep(arguments.first_step))

    (train_data, train_labels), (test_data, test_labels) = load_data(arguments.path)
    x_train = vectorize_sequences(train_data)
    x_test = vectorize_sequences(test_data)
    y_train = np.asarray(train_labels).astype("float32")
    y_test = np.asarray(test_labels).astype("float32")

    x_val, partial_x_train = x_train[:10000], x_train[10000:]
    y_val, partial_y_train = y_train[:10000], y_train[10000:]
    model = build_model()
    timer = EpochTimer()
    model.fit(
        partial_x_train,
        partial_y_train,
        epochs=arguments.epochs,
        batch_size=512,
        validation_data=(x_val, y_val),
        verbose=0,
        callbacks=[timer, *callbacks],
    )
    result = {"epoch_seconds": timer.seconds}
    if arguments.retrain_epochs:
        model = build_model()
        model.fit(x_train, y_train, epochs=arguments.retrain_epochs, batch_size=512, verbose=0)
        result["test_accuracy"] = float(model.evaluate(x_test, y_test, verbose=0)[1])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
