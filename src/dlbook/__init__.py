"""dlbook: a command-line experiment runner for Keras 3, driven by Hydra configs."""

__version__ = "0.1.0"
