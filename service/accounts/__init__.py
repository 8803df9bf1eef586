"""Who acts: residents' devices, officers and their logins, partner API keys."""
