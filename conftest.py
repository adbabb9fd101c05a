"""Settings shared by the unit tests and the notebooks run under nbval."""

import os

os.environ.setdefault("MPLBACKEND", "agg")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # as the Makefile: see its note
