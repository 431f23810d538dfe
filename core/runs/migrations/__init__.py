"""Alembic's scripts for the run store's schema (see `core.runs.schema_upgrade`).

`versions/` holds one script per schema revision; `env.py` runs them on the connection
`core.runs.schema_upgrade.upgrade` hands it (there is no ``alembic.ini``: the app upgrades
its own database when a store opens).
"""
