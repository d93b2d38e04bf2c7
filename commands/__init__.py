"""Command-line groups, one module per capability; app.py adds them to `cli`."""
