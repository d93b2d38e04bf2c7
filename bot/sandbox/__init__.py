"""Local stand-ins for the providers and the page that shows what residents got."""
