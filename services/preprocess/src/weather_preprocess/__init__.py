"""Preprocess service of the weather suite: climate analysis of canonical xarray datasets."""
