"""Reliability and security trials: what the backup survives, printed as figures.

`python -m trials` (`make trials`) runs every trial against real `sync` and `run`
processes, real headless Chromium, real SQLite and real mounts, and prints one
table: what each trial did, what it measured, whether it passed, and its seconds.
The quick trials also run in `make test` (tests/trials/).
"""
