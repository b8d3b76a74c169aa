"""tempcheck analysis package."""
