"""Settings shared by the unit tests and the notebooks run under nbval."""

import os

os.environ.setdefault("MPLBACKEND", "agg")
