"""Entrepairs: the forum (members, spaces, threads, posts) and the web app that serves it."""

import os

# One BLAS thread per process: a worker's matrix products (the crisis screen's encoder) run on
# its own core instead of fighting the other workers and its own event loop for both. Set
# before numpy is first imported (forum is imported first by every entry point); an
# operator's own value wins.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
