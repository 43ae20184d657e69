"""Events, their teams (membership and roles) and their channels: the set-up of an event."""
