"""Babel catalogs for system messages, and the small module that reads them."""
