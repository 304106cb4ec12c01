"""TensorProto <-> numpy conversion shared by the predictor and the model server."""
