"""Long documented runs and studies: what the README's result tables come from.

- :mod:`experiments.zoo`: every adversarial objective and network option as a DVC experiment;
- :mod:`experiments.table2`: the paper's Table 2, one DVC experiment per row;
- :mod:`experiments.runner`: what those two share (running rows, reading experiments back, the
  picture of one test clip, their command line);
- :mod:`experiments.compare`: several runs' predictions of the same test clips in one picture;
- :mod:`experiments.determinism`: which machine settings change a training run's bits;
- :mod:`experiments.sqdist_error`: the pairwise distances' error against float64.
- :mod:`experiments.readme`: the README's tables of these results, written from their files.

Their files live in ``experiments/results/``. This package imports ``pyext``, never the reverse.
"""
