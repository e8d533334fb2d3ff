"""integrations/deploy."""
