"""Visitors: identity cookies, per-address limits, session uploads and the memory budget."""
