"""Maps after a run, as tables, with what the run changed marked.

Reads the engine's JSON form of a map (``MapInstance.entries_json()``, what ``RunResult.maps`` holds):
``entries`` maps key hex to value hex (per-CPU maps: a list, one value per CPU; arrays list every index);
keyless maps add ``values`` (queue, stack), ``records`` (ring buffer: hex; perf event array:
``{"cpu", "data"}``) and other state (``pending``, ``producer_pos``, ``bits_set`` ...), shown as facts.
"""
from __future__ import annotations

from app.ebpf.maps import MAP_TYPES

from .contexts import MapCell, MapEntry, MapGap, MapRecord, MapTable

HEADER_KEYS = frozenset({"name", "type", "key_size", "value_size", "max_entries", "entries", "values", "records"})
SHOW_ALL_UP_TO = 64  # arrays with at most this many entries show every index


def number(hex_bytes: str) -> str:
    """A little-endian unsigned integer, for values of 1, 2, 4 or 8 bytes ('' otherwise)."""
    data = bytes.fromhex(hex_bytes)
    return str(int.from_bytes(data, "little")) if len(data) in (1, 2, 4, 8) else ""


def spaced(hex_bytes: str) -> str:
    return " ".join(hex_bytes[i:i + 2] for i in range(0, len(hex_bytes), 2))


def _printable(data: bytes) -> str:
    return "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in data[:48]) + ("…" if len(data) > 48 else "")


def _cells(value, old) -> tuple[MapCell, ...]:
    values = value if isinstance(value, list) else [value]
    olds = old if isinstance(old, list) else [old] * len(values)
    return tuple(MapCell(spaced(v), number(v), o is not None and o != v) for v, o in zip(values, olds))


def _was(old) -> str:
    if old is None:
        return ""
    return " | ".join(spaced(v) for v in old) if isinstance(old, list) else spaced(old)


def _is_zero(value) -> bool:
    values = value if isinstance(value, list) else [value]
    return all(set(v) <= {"0"} for v in values)


def table(after: dict, before: dict | None) -> MapTable:
    """One map's table; ``before`` is the same map's JSON before the run (None: nothing to compare)."""
    mtype = MAP_TYPES.get(after["type"])
    old_entries = (before or {}).get("entries", {})
    percpu = any(isinstance(v, list) for v in after["entries"].values())
    ncpus = max((len(v) for v in after["entries"].values() if isinstance(v, list)), default=0)
    columns = tuple(f"cpu{c}" for c in range(ncpus)) if percpu else ("value",)
    is_array = after["type"] in ("array", "percpu_array")
    rows: list[MapEntry | MapGap] = []
    changes = 0
    gap: list[int] = []

    def flush_gap() -> None:
        if gap:
            label = f"index {gap[0]}" if len(gap) == 1 else f"indexes {gap[0]} to {gap[-1]}"
            rows.append(MapGap(len(gap), f"{label}: zero, unchanged"))
            gap.clear()

    keys = list(after["entries"])
    for key in keys:
        value = after["entries"][key]
        old = old_entries.get(key) if before is not None else value
        status = "" if old == value else ("added" if old is None else "changed")
        changes += bool(status)
        key_number = number(key) if len(key) == 8 else ""
        if is_array and len(keys) > SHOW_ALL_UP_TO and not status and _is_zero(value):
            gap.append(int(key_number or 0))
            continue
        flush_gap()
        rows.append(MapEntry(spaced(key), key_number, _cells(value, old if status == "changed" else None), status,
                             _was(old) if status == "changed" else ""))
    flush_gap()
    for key, old in old_entries.items():
        if key not in after["entries"]:
            changes += 1
            rows.append(MapEntry(spaced(key), number(key) if len(key) == 8 else "", _cells(old, None), "deleted", ""))
    records, records_title, new_records = _records(after, before)
    facts = tuple((k.replace("_", " "), str(v)) for k, v in after.items() if k not in HEADER_KEYS)
    note = ""
    if not rows and not records:
        note = {"ringbuf": "No records in the ring buffer.", "queue": "The queue is empty.",
                "stack": "The stack is empty.", "perf_event_array": "No samples.",
                "bloom_filter": "A bloom filter has no entries to list; its bits are summarised below."}.get(
            after["type"], "No entries.")
    return MapTable(after["name"], after["type"], mtype.doc if mtype else "", after["key_size"], after["value_size"],
                    after["max_entries"], columns, tuple(rows), records, records_title, facts,
                    changes + new_records, note)


def _records(after: dict, before: dict | None) -> tuple[tuple[MapRecord, ...], str, int]:
    if "values" in after:
        items, title = [(v, "") for v in after["values"]], "values, in pop order"
        old = [(v, "") for v in (before or {}).get("values", [])]
    elif "records" in after:
        def norm(r):
            return (r["data"], str(r["cpu"])) if isinstance(r, dict) else (r, "")
        items = [norm(r) for r in after["records"]]
        old = [norm(r) for r in (before or {}).get("records", [])]
        title = "samples" if after["type"] == "perf_event_array" else "records, oldest first"
    else:
        return (), "", 0
    new: set[int] = set()
    removed = 0
    if before is not None and items != old:
        if len(items) < len(old):  # popped or consumed
            removed = len(old) - len(items)
        elif items[:len(old)] == old:  # appended (ring buffer, queue push)
            new = set(range(len(old), len(items)))
        elif items[len(items) - len(old):] == old:  # pushed on a stack
            new = set(range(len(items) - len(old)))
        else:
            new = set(range(len(items)))
    records = tuple(MapRecord(i, spaced(h), _printable(bytes.fromhex(h)), cpu, i in new)
                    for i, (h, cpu) in enumerate(items))
    return records, title, len(new) + removed


def tables(after: tuple[dict, ...] | list[dict], before: tuple[dict, ...] | None) -> tuple[MapTable, ...]:
    olds = list(before) if before is not None else [None] * len(after)
    return tuple(table(a, b) for a, b in zip(after, olds))
