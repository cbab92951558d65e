"""`python -m pipeline.preset`: an alias of `beyondmse preset` (pyext.cli), kept for a while."""
from pyext.cli import alias

alias("preset")
