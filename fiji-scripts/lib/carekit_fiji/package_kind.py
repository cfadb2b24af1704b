"""What the deepImageJ engine must know of a carekit package before running it: its `config.carekit` block,
read from the description text (Jython has no YAML parser). Jython 2.7 / CPython 3 common code."""

import os

DESCRIPTION_NAMES = ("bioimageio.yaml", "rdf.yaml")


def carekit_block(text):
    """The scalar `key: value` pairs of the `carekit:` block of an rdf, as strings ({} when it has none)."""
    values, block_indent, child_indent = {}, None, None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        if block_indent is None:
            if stripped == "carekit:":
                block_indent = indent
            continue
        if indent <= block_indent:
            break
        child_indent = indent if child_indent is None else child_indent
        key, sep, value = stripped.partition(":")
        if indent == child_indent and sep and value.strip():  # direct children only, not e.g. domain's entries
            values[key.strip()] = value.strip().strip("'\"")
    return values


def deepimagej_problem(text):
    """Why deepImageJ cannot run this package faithfully, or None: isotropic and axial-upsampling packages hold a
    network that carekit applies after zooming Z (and, isotropic, to the XZ/YZ planes), which deepImageJ does not do."""
    block = carekit_block(text)
    kind = block.get("kind", "care")
    try:
        zoom = float(block.get("z_factor", "1"))
    except ValueError:
        zoom = 1.0
    if kind == "isotropic" or zoom > 1:
        what = "an isotropic" if kind == "isotropic" else "an axial-upsampling"
        return ("this is %s carekit model: its network needs carekit's Z zoom by %g first, which deepImageJ does not "
                "apply; use engine=python" % (what, zoom))
    return None


def deepimagej_modes_note(text, rescale_asked, blend_asked):
    """The Log line for a package with its own prediction modes (rescale, classical blend) run by deepImageJ when
    they were asked for (the defaults rescale=model, classical_blend=model), which deepImageJ cannot apply (it runs
    the model alone at the image's own scale); None otherwise."""
    block = carekit_block(text)
    modes = []
    if rescale_asked and block.get("rescale"):
        modes.append("rescale %s" % block["rescale"])
    if blend_asked and block.get("classical_blend", "").lower() == "true":
        modes.append("the classical blend")
    if not modes:
        return None
    return ("this model restores with %s by default, which deepImageJ does not apply: restored by the model alone "
            "at the image's own scale; use engine=python for it" % " and ".join(modes))


def description_text(folder):
    """The text of the package description in `folder` (spec 0.5 or 0.4 name, or *.bioimageio.yaml), or ''."""
    names = [n for n in os.listdir(folder) if n in DESCRIPTION_NAMES or n.endswith(".bioimageio.yaml")]
    if not names:
        return ""
    handle = open(os.path.join(folder, sorted(names)[0]))
    try:
        return handle.read()
    finally:
        handle.close()
