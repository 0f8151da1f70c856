"""Model builders: functions that return a Keras model for a given input shape."""


def register_serializable() -> None:
    """Define and register dlbook's own Keras classes, so that saved models reload in Keras' safe mode.

    They are defined on first use (importing dlbook needs no TensorFlow), so a fresh process that only
    loads a model (`dlbook evaluate`) calls this first.
    """
    from dlbook.models import dcgan, layers, vae

    vae.vae_class()
    dcgan.dcgan_class()
    layers.last_timestep_feature_class()
