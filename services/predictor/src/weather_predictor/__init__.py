"""Predictor service: forecasts served through TensorFlow Serving (issue 5)."""
