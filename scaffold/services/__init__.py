"""Use cases, one module each. Services return data and never print or exit."""
