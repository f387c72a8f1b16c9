"""Care programme budgets per 盟市 and year, and the bureau's warning share."""
