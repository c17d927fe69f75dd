"""Valuation rounds: the Django app around the pure attribution engine."""
