"""Evidence programs on top of mer-zoo (``python -m experiments.perf.NAME``): they run it as a
user would and write what they measure under ``experiments/perf/results/``. Not installed with
the package; nothing in it imports them."""
