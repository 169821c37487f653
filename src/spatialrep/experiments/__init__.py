"""Experiment runners (``spatialrep experiment NAME``): each compares methods on one fixed test set and writes
``results.csv``, ``results.json``, ``results.md`` and plots to its output folder. Shared writers live in
:mod:`spatialrep.experiments.report`."""
