"""The ingest service: gridded files and station tables into the canonical Zarr archive."""
