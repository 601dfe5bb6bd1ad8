"""Kindred's predictive models: lead score, churn risk and next best offer (LightGBM, MLflow).

LightGBM's OpenMP threads spin while they wait by default; on a small machine shared with DuckDB's
own threads that makes a 2-thread fit up to ten times slower than a 1-thread one. Waiting
passively costs nothing measurable when the machine is idle. It must be set before LightGBM is
first imported, and a value the user set wins.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
