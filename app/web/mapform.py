"""The map declaration panel: a map declared with fields (name, type, sizes, flags, inner map) becomes the
``.map`` line that declares it, put in the program after the maps it declares already (at the top when it
declares none), so that the ``map_fd(N)`` numbers of those stay as they were.

``POST /map`` (``playground.add_map``) takes the editor's form with these ``FIELDS`` and answers the page
with the line added and the program run again, or 422 with the problems by field (``map_name`` ...). The
types offered are the engine's table, ``app.ebpf.maps.MAP_TYPES``; the line is ``asm.map_directive``'s and
is read back by the assembler before it goes in.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from app.ebpf import AsmError, MapDef, assemble
from app.ebpf.asm import map_directive
from app.ebpf.asm.parse import MAP_NAME
from app.ebpf.maps import MAP_TYPES, check_map

from .forms import LANG_C

FIELDS = ("map_name", "map_type", "map_key_size", "map_value_size", "map_max_entries", "map_flags", "map_inner")
"""The panel's fields: ``map_inner`` names the map whose shape an ``array_of_maps`` or ``hash_of_maps``
holds, and with ``map_flags`` may be left blank."""

_MAP_LINE = re.compile(r"\s*\.map\s+(\w+)")


@dataclass(frozen=True)
class MapForm:
    """The panel as filled in: ``values`` by field (``FIELDS``), ``types`` the choices of ``map_type``, and
    ``added`` the line the last submission put in the program."""

    values: Mapping[str, str] = field(default_factory=dict)
    types: tuple[str, ...] = tuple(MAP_TYPES)
    added: str = ""


def declared_names(source: str) -> list[str]:
    """The names of the maps a source declares with ``.map`` lines."""
    return [m.group(1) for m in map(_MAP_LINE.match, source.splitlines()) if m]


def map_line(values: Mapping[str, str], source: str, language: str) -> tuple[str | None, dict[str, str]]:
    """The ``.map`` line for the panel's ``values``, or None and the problems by field."""
    if language == LANG_C:
        return None, {"language": "a C program declares its maps in its source (struct {...} NAME SEC(\".maps\"))"}
    errors: dict[str, str] = {}
    name, kind, inner = (values.get(k, "").strip() for k in ("map_name", "map_type", "map_inner"))
    if not MAP_NAME.fullmatch(name):
        errors["map_name"] = "a name is letters, digits and _, not starting with a digit"
    elif name in declared_names(source):
        errors["map_name"] = f"the program declares a map {name!r} already"
    if kind not in MAP_TYPES:
        errors["map_type"] = f"one of: {', '.join(MAP_TYPES)}"
    if inner and inner not in declared_names(source):
        errors["map_inner"] = "names no map the program declares with .map"
    numbers = {}
    for key in ("key_size", "value_size", "max_entries", "flags"):
        text = values.get(f"map_{key}", "").strip() or ("0" if key == "flags" else "")
        try:
            numbers[key] = int(text, 0)
        except ValueError:
            errors[f"map_{key}"] = f"a number from 0 to 2^32-1 (0x... for hex), not {text[:40]!r}"
            continue
        if not 0 <= numbers[key] < 1 << 32:
            errors[f"map_{key}"] = "a number from 0 to 2^32-1"
    if errors:
        return None, errors
    mdef = MapDef(name, kind, inner=inner, **numbers)
    problem = check_map(mdef, 1)
    if problem:  # the kernel's EINVAL names the size or flag it refuses
        where = next((f"map_{k}" for k in ("key_size", "value_size", "max_entries", "flags") if k in problem),
                     "map_type")
        return None, {where: f"the kernel would refuse it: {problem}"}
    line = map_directive(mdef)
    try:  # an array_of_maps without its inner map ...
        assemble("\n".join([f".map {n} type=array key_size=4 value_size=4 max_entries=1" for n in
                            ([inner] if inner else [])] + [line]))
    except AsmError as e:
        return None, {"map_inner" if "inner" in e.message else "map_type": e.message}
    return line, {}


def with_map(source: str, line: str) -> str:
    """``source`` with ``line`` after its last ``.map`` line, or at the top when it has none."""
    lines = source.splitlines(keepends=True)
    last = max((i for i, text in enumerate(lines) if _MAP_LINE.match(text)), default=-1)
    if 0 <= last and not lines[last].endswith("\n"):
        lines[last] += "\n"
    lines.insert(last + 1, line + "\n")
    return "".join(lines)
