"""Users, login, roles and API tokens."""
