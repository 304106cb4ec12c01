"""Tests of the predictor service."""
