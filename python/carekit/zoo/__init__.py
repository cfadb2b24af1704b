"""BioImage Model Zoo: packaging, validation and loading of bioimage.io spec 0.5 models."""
