"""dlbook's Hydra sweeper for hyperparameter search with Optuna (``hydra/sweeper=dlbook_optuna``)."""
