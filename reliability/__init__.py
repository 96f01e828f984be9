"""The reliability harness: the real app as a server process, driven by concurrent clients
through its real forms, under load and faults; then checks that nothing acknowledged was lost,
nothing stored twice, the counters match the posts and the database is intact.

Run it with ``make reliability`` or ``python -m reliability --help``; ``docs/RELIABILITY.md``
gives the method and the figures. The short versions run in ``tests/reliability/``.
"""
