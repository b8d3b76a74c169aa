"""Collecting feedback: settings, storage, survey definitions, the answering engine."""
