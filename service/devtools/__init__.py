"""Development tools, never used by the running service: the fictitious demo history."""
