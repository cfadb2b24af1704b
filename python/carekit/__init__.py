"""carekit: train CARE restoration models, package them for the BioImage Model Zoo, run them in Fiji/ImageJ.

Importing this package is cheap: TensorFlow and csbdeep are only imported by `carekit.train`
(and the modules that predict with a Keras model) when they are first used.
"""

from .errors import CarekitError, InputError

__version__ = "0.1.0"
__all__ = ["CarekitError", "InputError", "__version__"]
