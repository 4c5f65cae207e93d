"""The fault suite: Gatehouse under load on private PostgreSQL and Redis, broken on purpose, then audited.

See docs/faults.md. Run it with `make faults` or `make faults-short`.
"""
