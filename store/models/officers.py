"""Models for the officers capability (filled in by its issue)."""
