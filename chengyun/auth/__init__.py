"""Sign-in, roles, area scopes and machine tokens."""
