"""tempcheck forms package."""
