"""Attribution models: valuation rounds and contributor values (none yet)."""
