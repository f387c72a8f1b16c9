"""Per-盟市 care policy: the overrides every care module's subsidy terms are read through."""
