"""Models for the contacts capability (filled in by its issue)."""
