"""The book's listing 6.27 (IMDB LSTM), as a plain Keras script: the peer of `dlbook train experiment=imdb_lstm`.

Usage: python bench/plain_imdb_lstm.py <imdb.npz> <epochs>   (prints a JSON line of epoch seconds)
"""

import json
import sys
import time

import keras
import numpy as np
from keras import layers
from keras.utils import pad_sequences

MAX_FEATURES = 10000
MAXLEN = 500


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def load(path: str):
    """imdb.load_data(num_words=10000) from a local file: Keras' shuffle, start mark 1, OOV 2, words + 3."""
    with np.load(path, allow_pickle=True) as data:
        x_train, y_train = data["x_train"], data["y_train"]
    order = np.arange(len(x_train))
    np.random.RandomState(113).shuffle(order)
    sequences = [[1] + [w + 3 if w + 3 < MAX_FEATURES else 2 for w in x_train[i]] for i in order]
    return pad_sequences(sequences, maxlen=MAXLEN), y_train[order].astype("float32")


def main(path: str, epochs: int) -> None:
    input_train, y_train = load(path)
    model = keras.Sequential(
        [
            keras.Input((MAXLEN,)),
            layers.Embedding(MAX_FEATURES, 32),
            layers.LSTM(32),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    timer = EpochTimer()
    model.fit(input_train, y_train, epochs=epochs, batch_size=128, validation_split=0.2, verbose=0, callbacks=[timer])
    print(json.dumps({"epoch_seconds": timer.seconds}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
