"""Fakes of the services the project talks to but cannot reach in tests.

`fakes.photos` stands in for photos.google.com and `fakes.healthchecks` for a
Healthchecks server; both are real HTTP servers that follow the contracts in
the shared notes, faults included.
"""
