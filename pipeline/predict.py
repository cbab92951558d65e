"""`python -m pipeline.predict`: an alias of `beyondmse predict` (pyext.cli), kept for a while."""
from pyext.cli import alias

alias("predict")
