"""The built-in survey definitions and the condition language."""
