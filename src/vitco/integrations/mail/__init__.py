"""integrations/mail."""
