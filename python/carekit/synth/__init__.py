"""Semi-synthetic and synthetic training data: PSFs, camera noise, structures, axial anisotropy."""
