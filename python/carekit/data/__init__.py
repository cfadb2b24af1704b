"""Training data: built-in real images and patch extraction."""
