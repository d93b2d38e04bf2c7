"""The flow language: schema, YAML loader with line numbers, answer matching, the pure engine."""
