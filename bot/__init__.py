"""tempcheck bot package."""
