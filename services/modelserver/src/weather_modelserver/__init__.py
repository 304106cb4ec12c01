"""Model server: SavedModel versions served over TensorFlow Serving's gRPC API."""
