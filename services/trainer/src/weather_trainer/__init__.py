"""Trainer service: forecast models trained as jobs, scored, exported and registered."""
