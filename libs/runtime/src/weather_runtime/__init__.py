"""Shared runtime of the weather suite's services: settings, server bootstrap, errors, telemetry."""
