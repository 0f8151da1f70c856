"""dlbook's own Keras layers, registered so that saved models reload in Keras' safe mode."""

from __future__ import annotations


def _register():
    import keras

    @keras.saving.register_keras_serializable(package="dlbook")
    class LastTimestepFeature(keras.layers.Layer):
        """Outputs one feature of the last timestep of a sequence: ``inputs[:, -1, feature_index:feature_index+1]``.

        The common-sense baseline of book 6.3 as a model: "the temperature 24 hours from now equals
        the last temperature in the window".
        """

        def __init__(self, feature_index: int, **kwargs):
            super().__init__(**kwargs)
            self.feature_index = int(feature_index)

        def call(self, inputs):
            return inputs[:, -1, self.feature_index : self.feature_index + 1]

        def compute_output_shape(self, input_shape):
            return (input_shape[0], 1)

        def get_config(self):
            return {**super().get_config(), "feature_index": self.feature_index}

    return LastTimestepFeature


_LAYERS: dict[str, type] = {}


def last_timestep_feature_class() -> type:
    """The ``LastTimestepFeature`` class, defined and registered with Keras on first use (no TensorFlow at import)."""
    if "LastTimestepFeature" not in _LAYERS:
        _LAYERS["LastTimestepFeature"] = _register()
    return _LAYERS["LastTimestepFeature"]


def last_timestep_feature(feature_index: int, **kwargs):
    """A ``LastTimestepFeature`` layer."""
    return last_timestep_feature_class()(feature_index, **kwargs)
