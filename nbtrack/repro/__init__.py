"""Reproduction: slice a run's kernel history, export it as a notebook, re-run it and compare."""
