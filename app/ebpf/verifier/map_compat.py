"""Which maps each helper may be given, and which helpers each map may be given to: the two switches of
``check_map_func_compatibility`` in ``kernel/bpf/verifier.c``, plus the tail call's own check in
``record_func_key``. Map types are our map table's names (``maps/table.py``); helpers are the helper
table's names. Types we do not model (stack_trace, cpumap, xskmap, ...) still appear where the kernel
names them, so that the rule reads as the kernel's does.
"""
from __future__ import annotations

from ..maps import MAP_TYPES

# From the map's side: a map of this type may be passed only to these helpers (every other helper is
# refused). Types not listed here go to any helper that takes a map.
HELPERS_OF_MAP: dict[str, frozenset[str]] = {
    "prog_array": frozenset({"bpf_tail_call"}),
    "perf_event_array": frozenset({"bpf_perf_event_read", "bpf_perf_event_output", "bpf_skb_output",
                                   "bpf_perf_event_read_value", "bpf_xdp_output"}),
    "ringbuf": frozenset({"bpf_ringbuf_output", "bpf_ringbuf_reserve", "bpf_ringbuf_query",
                          "bpf_ringbuf_reserve_dynptr", "bpf_ringbuf_submit_dynptr", "bpf_ringbuf_discard_dynptr"}),
    "devmap": frozenset({"bpf_redirect_map", "bpf_map_lookup_elem"}),
    "devmap_hash": frozenset({"bpf_redirect_map", "bpf_map_lookup_elem"}),
    "array_of_maps": frozenset({"bpf_map_lookup_elem"}),
    "hash_of_maps": frozenset({"bpf_map_lookup_elem"}),
    "queue": frozenset({"bpf_map_peek_elem", "bpf_map_pop_elem", "bpf_map_push_elem"}),
    "stack": frozenset({"bpf_map_peek_elem", "bpf_map_pop_elem", "bpf_map_push_elem"}),
    "bloom_filter": frozenset({"bpf_map_peek_elem", "bpf_map_push_elem"}),
}

# From the helper's side: this helper takes only maps of these types.
MAPS_OF_HELPER: dict[str, frozenset[str]] = {
    "bpf_tail_call": frozenset({"prog_array"}),
    **{name: frozenset({"perf_event_array"}) for name in (
        "bpf_perf_event_read", "bpf_perf_event_output", "bpf_perf_event_read_value", "bpf_skb_output",
        "bpf_xdp_output")},
    **{name: frozenset({"ringbuf"}) for name in (
        "bpf_ringbuf_output", "bpf_ringbuf_reserve", "bpf_ringbuf_query", "bpf_ringbuf_reserve_dynptr",
        "bpf_ringbuf_submit_dynptr", "bpf_ringbuf_discard_dynptr")},
    "bpf_get_stackid": frozenset({"stack_trace"}),
    "bpf_skb_under_cgroup": frozenset({"cgroup_array"}),
    "bpf_current_task_under_cgroup": frozenset({"cgroup_array"}),
    "bpf_redirect_map": frozenset({"devmap", "devmap_hash", "cpumap", "xskmap"}),
    "bpf_map_pop_elem": frozenset({"queue", "stack"}),
    "bpf_map_peek_elem": frozenset({"queue", "stack", "bloom_filter"}),
    "bpf_map_push_elem": frozenset({"queue", "stack", "bloom_filter"}),
    "bpf_map_lookup_percpu_elem": frozenset({"percpu_array", "percpu_hash", "lru_percpu_hash"}),
}


def tail_call_map_problem(helper: str, map_type: str) -> str | None:
    """``record_func_key``: bpf_tail_call needs a prog_array. (The kernel prints this one without a
    newline, so in its log it runs into the next line.)"""
    if helper == "bpf_tail_call" and map_type != "prog_array":
        return "expected prog array map for tail call"
    return None


def map_func_problem(helper: str, func_id: int, map_type: str) -> str | None:
    """``check_map_func_compatibility``: the refusal message, or None when the pair is allowed."""
    allowed_helpers = HELPERS_OF_MAP.get(map_type)
    allowed_maps = MAPS_OF_HELPER.get(helper)
    if (allowed_helpers is not None and helper not in allowed_helpers) or \
            (allowed_maps is not None and map_type not in allowed_maps):
        return f"cannot pass map_type {MAP_TYPES[map_type].kernel_id} into func {helper}#{func_id}"
    return None
