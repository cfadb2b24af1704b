"""Plugin options: from Fiji's #@ parameters or from an ImageJ macro options string."""

from ij import Macro

DEFAULTS = {
    "model": "",
    "input": "",
    "output": "",
    "engine": "python",
    "backend": "onnx",
    "tile": "0",
    "uncertainty": "true",
    "python": "",
    "timeout": "600",
    "precision": "fp32",
}
PRECISIONS = ("auto", "fp32", "bf16")


class OptionError(Exception):
    pass


def from_macro_string(options):
    """Key=value pairs as ImageJ writes them (values with spaces in [brackets]); unknown keys are rejected."""
    options = (options or "").strip() + " "
    values = {}
    for key, default in DEFAULTS.items():
        values[key] = Macro.getValue(options, key, default)
    known = set(DEFAULTS)
    for token in _keys(options):
        if token not in known:
            raise OptionError("unknown option '%s'; known options: %s" % (token, ", ".join(sorted(known))))
    return normalize(values)


def _keys(options):
    keys, depth, current = [], 0, ""
    for char in options:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif depth == 0 and char == "=":
            keys.append(current.strip().split(" ")[-1])
            current = ""
            continue
        elif depth == 0 and char == " ":
            current = ""
            continue
        if depth == 0 and char not in "[]":
            current += char
    return [k for k in keys if k]


def normalize(values):
    out = dict(DEFAULTS)
    out.update(dict((k, v) for k, v in values.items() if v is not None))
    out["engine"] = str(out["engine"]).lower()
    out["backend"] = str(out["backend"]).lower()
    out["precision"] = str(out["precision"]).lower()
    out["uncertainty"] = str(out["uncertainty"]).lower() in ("true", "1", "yes", "on")
    try:
        out["tile"] = int(float(out["tile"] or 0))
        out["timeout"] = float(out["timeout"] or 600)
    except ValueError:
        raise OptionError("tile and timeout must be numbers (tile in pixels, timeout in seconds)")
    if not out["model"]:
        raise OptionError("no model given: pass model=[/path/to/package.zip] (a bioimage.io package made by carekit)")
    if out["engine"] not in ("python", "deepimagej"):
        raise OptionError("engine must be 'python' or 'deepimagej', got '%s'" % out["engine"])
    if out["backend"] not in ("onnx", "tensorflow", "keras"):
        raise OptionError("backend must be onnx, tensorflow or keras, got '%s'" % out["backend"])
    if out["precision"] not in PRECISIONS:
        raise OptionError("precision must be auto, fp32 or bf16, got '%s'" % out["precision"])
    return out
