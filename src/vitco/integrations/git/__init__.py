"""integrations/git."""
