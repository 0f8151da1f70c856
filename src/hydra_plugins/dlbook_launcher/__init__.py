"""dlbook's Hydra launcher: every sweep job in its own process, spread over the machine's GPUs."""
