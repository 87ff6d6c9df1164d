"""csflow."""
