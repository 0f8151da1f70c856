"""Configs before anything runs: the checks of a composed config and of overrides, the catalogue of
experiments, the book's reference results, and where dlbook's conf/ and experiments/ are found.
"""
