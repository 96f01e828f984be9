"""The benchmark harness (``python -m bench`` / ``make bench``): dataset, runner, ceiling app.

See docs/PERFORMANCE.md for the method and the latest figures.
"""
