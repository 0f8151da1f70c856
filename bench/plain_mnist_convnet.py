"""The book's listing 5.1-5.3, as a plain Keras script: the peer dlbook's runner overhead is measured against.

Usage: python bench/plain_mnist_convnet.py <mnist.npz> <epochs>   (prints a JSON line of epoch seconds)
"""

import json
import sys
import time

import keras
import numpy as np
from keras import layers, models


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def main(path: str, epochs: int) -> None:
    with np.load(path) as data:
        train_images, train_labels = data["x_train"], data["y_train"]
        test_images, test_labels = data["x_test"], data["y_test"]
    train_images = train_images.reshape((len(train_images), 28, 28, 1)).astype("float32") / 255
    test_images = test_images.reshape((len(test_images), 28, 28, 1)).astype("float32") / 255
    train_labels = keras.utils.to_categorical(train_labels, 10)
    test_labels = keras.utils.to_categorical(test_labels, 10)

    model = models.Sequential()
    model.add(keras.Input((28, 28, 1)))
    model.add(layers.Conv2D(32, (3, 3), activation="relu"))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation="relu"))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation="relu"))
    model.add(layers.Flatten())
    model.add(layers.Dense(64, activation="relu"))
    model.add(layers.Dense(10, activation="softmax"))
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    timer = EpochTimer()
    model.fit(train_images, train_labels, epochs=epochs, batch_size=64, verbose=0, callbacks=[timer])
    _, test_accuracy = model.evaluate(test_images, test_labels, verbose=0)
    print(json.dumps({"epoch_seconds": timer.seconds, "test_accuracy": float(test_accuracy)}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
