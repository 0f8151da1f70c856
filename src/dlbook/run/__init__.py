"""What one run is made of: its directory, the trainer and its callbacks, backend and strategy set-up,
backups and resuming, faults, pruning and the loggers that follow a run while it trains.
"""
