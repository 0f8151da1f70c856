"""The sub-commands of `dlbook`, one module each: the Hydra task function (or plain function) that a
command line runs. Each is a short, straight line of steps over the library below (run/, results/,
config/); only dlbook.cli imports this package, and nothing here is imported by the library.
"""
