"""Models for the outreach capability (filled in by its issue)."""
