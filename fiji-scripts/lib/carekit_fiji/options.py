"""Plugin options: from Fiji's #@ parameters or from an ImageJ macro options string."""

from . import contract


class OptionError(Exception):
    pass


BRACKET_HINT = ("a path whose [ ] do not pair up cannot be written in [brackets]: put it in single quotes "
                "instead, e.g. model='/data/run]2/model.zip'")


def from_macro_string(options):
    """Key=value pairs as ImageJ reads them (Macro.getValue): a value in [brackets] ends at the matching ']',
    one in 'quotes' at the next quote, any other at the next space. Unknown keys are rejected. A bare word turns a
    flag option on (a ticked checkbox, as ImageJ writes it); one naming any other option is refused, since it lacks
    the value; other bare words are passed over, as ImageJ does."""
    values = {}
    for key, value in _pairs((options or "").strip()):
        if key in values:
            raise OptionError("%s is given twice" % key)
        if value is not None:
            values[key] = value
        elif key in contract.FLAG_OPTIONS:
            values[key] = "true"
        elif key in contract.OPTION_DEFAULTS:
            raise OptionError("%s needs a value: %s=[...]" % (key, key))
    unknown = sorted(set(values) - set(contract.OPTION_DEFAULTS))
    if unknown:
        raise OptionError("unknown option '%s'; known options: %s"
                          % (unknown[0], ", ".join(sorted(contract.OPTION_DEFAULTS))))
    return normalize(values)


def _pairs(options):
    pairs, start = [], 0
    while start < len(options):
        end = options.find(" ", start)
        equals = options.find("=", start)
        if equals < 0 or (0 <= end < equals):  # a bare word (an ImageJ checkbox flag): no value
            word_end = len(options) if end < 0 else end
            if word_end > start:
                pairs.append((options[start:word_end], None))
            start = word_end + 1
            continue
        key, start = options[start:equals], equals + 1
        end = _value_end(options, start, key)
        value = options[start:end]
        pairs.append((key, value[1:-1] if value[:1] in ("[", "'") else value))
        start = end + 1
    return pairs


def _value_end(options, start, key):
    """Index just past the value of `key` that begins at `start`."""
    opening = options[start:start + 1]
    if opening == "'":
        end = options.find("'", start + 1) + 1
    elif opening == "[":
        depth, end = 0, 0
        for index in range(start, len(options)):
            depth += {"[": 1, "]": -1}.get(options[index], 0)
            if depth == 0:
                end = index + 1
                break
    else:
        end = options.find(" ", start)
        return len(options) if end < 0 else end
    if end <= 0:
        raise OptionError("the value of %s= has no closing %s" % (key, "]: " + BRACKET_HINT if opening == "[" else
                                                                  "quote"))
    if end < len(options) and options[end] != " ":
        raise OptionError("%s=%s is followed by '%s': %s" % (key, options[start:end], options[end:].split(" ")[0],
                                                             BRACKET_HINT))
    return end


def _from_uri(value):
    """run_in_fiji passes a path that no bracket form can carry as a file: URI."""
    from java.io import File
    from java.lang import IllegalArgumentException
    from java.net import URI, URISyntaxException

    try:
        return File(URI(value)).getPath()
    except (URISyntaxException, IllegalArgumentException) as error:
        raise OptionError("'%s' is not a valid file: URI (%s)" % (value, error))


def _flag(key, value):
    try:
        return contract.flag_value(value)
    except ValueError as error:
        raise OptionError("%s %s" % (key, error))


def normalize(values):
    out = dict(contract.OPTION_DEFAULTS)
    out.update(dict((k, v) for k, v in values.items() if v is not None))
    for key in contract.PATH_OPTIONS:
        if str(out[key]).startswith("file:"):
            out[key] = _from_uri(str(out[key]))
    out["engine"] = str(out["engine"]).lower()
    out["backend"] = str(out["backend"]).lower()
    out["precision"] = str(out["precision"]).lower()
    for key in ("uncertainty", "classical_check", "tta"):
        out[key] = _flag(key, out[key])
    out["hot_pixels"] = str(out["hot_pixels"]).strip().lower()
    try:
        out["tile"] = int(float(out["tile"] or 0))
        out["timeout"] = float(out["timeout"] or 600)
    except ValueError:
        raise OptionError("tile and timeout must be numbers (tile in pixels, timeout in seconds)")
    if not out["model"]:
        raise OptionError("no model given: pass model=[/path/to/package.zip] (a bioimage.io package made by carekit)")
    if out["engine"] not in contract.ENGINES:
        raise OptionError("engine must be 'python' or 'deepimagej', got '%s'" % out["engine"])
    if out["backend"] not in contract.BACKENDS:
        raise OptionError("backend must be onnx, tensorflow or keras, got '%s'" % out["backend"])
    if out["precision"] not in contract.PRECISIONS:
        raise OptionError("precision must be auto, fp32 or bf16, got '%s'" % out["precision"])
    if out["hot_pixels"] not in contract.HOT_PIXELS:
        raise OptionError("hot_pixels must be one of %s, got '%s'"
                          % (", ".join(contract.HOT_PIXELS), out["hot_pixels"]))
    try:
        out["classical_blend"] = contract.blend_value(out["classical_blend"])
    except ValueError as error:
        raise OptionError(str(error))
    out["rescale"] = str(out["rescale"]).strip().lower() or "1"
    try:
        contract.rescale_value(out["rescale"])
    except ValueError:
        raise OptionError("rescale must be model (the model's own), 1 (off), auto, search or a downsampling factor "
                          "from 1 to %g such as 3, got '%s'" % (contract.RESCALE_MAX, out["rescale"]))
    return out
