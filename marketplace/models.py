"""Marketplace models: contributors, data groups, model versions and payouts (none yet)."""
