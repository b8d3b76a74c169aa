"""Volunteering: volunteers, placements and enquiries, their follow-ups, and erasure."""
