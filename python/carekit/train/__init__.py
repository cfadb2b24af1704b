"""Training: the only layer that imports TensorFlow/csbdeep (import its modules only when training)."""
