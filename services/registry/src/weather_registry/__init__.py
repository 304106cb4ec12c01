"""The registry service: model versions, lineage, metrics, gated aliases and an event stream."""
