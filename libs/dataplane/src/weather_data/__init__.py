"""Data plane of the weather suite: canonical gridded datasets, the archive store, Dask runtime."""
