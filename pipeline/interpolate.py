"""`python -m pipeline.interpolate`: an alias of `beyondmse interpolate` (pyext.cli), kept for a while."""
from pyext.cli import alias

alias("interpolate")
