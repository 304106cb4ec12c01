"""Forecast scores shared by the trainer, preprocess analyses, the registry and the CLI."""
