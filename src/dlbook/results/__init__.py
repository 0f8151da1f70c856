"""What finished runs are turned into: reports and plots, TensorBoard HParams, sweep summaries, the table
of runs, reproductions of the catalogue and README's catalogue table.
"""
