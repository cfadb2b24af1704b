"""Errors that are meant to be read by the user: each says what went wrong and what to do."""


class CarekitError(Exception):
    """Base class of all errors carekit raises on purpose."""


class InputError(CarekitError, ValueError):
    """Bad input data or arguments (missing files, wrong shapes, NaNs, ...)."""


class EnvironmentProblem(CarekitError, RuntimeError):
    """Something the environment lacks (Java, ImageJ, built-in data, ...)."""
