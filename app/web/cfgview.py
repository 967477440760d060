"""The control-flow graph of the program beside the verifier walk: basic blocks coloured by how often the walk
has checked them so far, with the block of the current event and the current path marked.

Three steps, each a small function:

1. **Structure** (``basic_blocks``, ``block_edges``). A block starts at a *leader*: instruction 0, the start of
   every subprogram and named entry (``loadcheck.subprog_starts``, ``Program.entries``), every jump target
   (``insn.jump_target``) and the instruction after a jump, ``exit`` or ``call pc+N``. A bpf-to-bpf call ends
   its block, so the call edge leaves from the block's end and the return lands on the next block's start.
   Instruction indexes are the kernel's (``ld_imm64`` takes two slots; its second slot belongs to its block).
   Edges come from ``verifier.cfg.successors`` (the order ``check_cfg`` explores them): ``fall`` (fall-through),
   ``jump`` (a conditional jump taken), ``goto`` (an unconditional jump), and ``call`` (to a subprogram: a
   call or an ``ld_imm64`` of a function, drawn dashed).
2. **The walk up to event ``index``** (``_walk_facts``). A block's ``visits`` are the events (``visit``,
   ``exit``, ``reject``) at its first instruction; a ``prune`` there is not counted, but it does count as
   reaching the block for ``first_event``, the event a click on the block goes to. The *current path* is kept
   simple: the instructions checked since the last resumed branch (``pop_branch``), preceded by the jump that
   pushed that branch, so the edge into the resumed branch is part of it. What the resumed state shared with
   earlier paths is not followed back.
3. **Layout** (``_layout``). Deterministic and layered: blocks in program order, top to bottom, one column,
   with a gap and a heading before each function after the first. Blocks are as wide as the longest block's
   line needs (``block_width``: monospace text, so its length in characters), between ``BLOCK_WIDTH`` and
   ``MAX_BLOCK_WIDTH``; each block's ``title`` (the tooltip) lists its instructions in full. A fall-through between neighbours is a
   short vertical arrow; every other edge runs in a lane beside the column: forward edges on the right,
   back edges (loops) and self-loops on the left, so loops stand out. Lanes are given shortest edge first,
   each to the lowest lane its span does not overlap (at most ``MAX_LANES`` a side; beyond that they share).

The template (``playground/_cfg.html``) draws the edges as SVG paths and each block as an HTML button inside a
``foreignObject``, submitting the walk form with the block's first event (``walk.js`` sends it with htmx, and
without JavaScript it posts to /run). Above ``MAX_BLOCKS`` blocks no graph is drawn, only a sentence.
"""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from math import ceil

from app.ebpf import Program, isa
from app.ebpf.insn import Insn, jump_target
from app.ebpf.loadcheck import refers_to_function, subprog_starts
from app.ebpf.verifier.cfg import successors
from app.ebpf.verifier.walk import Event

from .present import insn_rows

MAX_BLOCKS = 300  # above this many blocks the graph is replaced by a sentence
HEAT_FLOORS = (1, 2, 4, 8)  # visits at which the shades .cfg-heat-1 .. -4 start; 0 is .cfg-heat-0
MAX_LANES = 12  # side lanes per side; more edges share the outermost lane

BLOCK_WIDTH, BLOCK_HEIGHT = 260, 24  # the narrowest block; blocks widen to fit their text up to MAX_BLOCK_WIDTH
MAX_BLOCK_WIDTH = 480  # wider text is cut with "…" (the block's title has all of it)
CHAR_WIDTH = 7.5  # px a character takes in a block (12px monospace fonts: 7.2)
BLOCK_PADDING = 40  # px around and between a block's span, text and visit count (padding, gaps, borders)
TITLE_INSNS = 12  # instructions listed in a block's title (its tooltip); more are counted
GAP = 14  # between blocks: room for a fall-through arrow
FUNCTION_GAP = 22  # extra room above a function's first block, for its heading
LANE = 7  # between side lanes
LANE_START = 10  # from the block's side to the innermost lane
MARGIN = 6

_NOT_BLOCK_ENDS = ("call", "call_kfunc", "callx")  # calls of helpers and kfuncs return within the block
_VISITS = ("visit", "exit", "nospec", "reject")  # events that checked an instruction
_REACHED = _VISITS + ("prune",)  # events that reached one


# --- structure ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Block:
    """Instructions ``first`` to ``last`` (slot indexes; ``last`` is the start of the final instruction), in
    the function that starts at ``function``."""

    first: int
    last: int
    function: int


@dataclass(frozen=True)
class Edge:
    """From block number ``src`` to block number ``dst`` (positions in the block tuple), of ``kind``
    ``fall``, ``jump``, ``goto`` or ``call``."""

    src: int
    dst: int
    kind: str


def instruction_starts(insns: Sequence[Insn]) -> list[int]:
    """The slots where an instruction starts (an ``ld_imm64`` covers two slots)."""
    pcs, pc = [], 0
    while pc < len(insns):
        pcs.append(pc)
        spec = insns[pc].spec
        pc += spec.slots if spec is not None else 1
    return pcs


def function_starts(program: Program) -> list[int]:
    """Subprogram starts and named entries, sorted (always including 0)."""
    starts = set(subprog_starts(program.insns)) | {pc for _, pc in program.entries if 0 <= pc < len(program)}
    return sorted(starts | {0})


def _ends_block(insn: Insn) -> bool:
    """A jump, ``exit`` or bpf-to-bpf call: the next instruction starts a block."""
    spec = insn.spec
    return spec is not None and spec.cls in (isa.Class.JMP, isa.Class.JMP32) and spec.op not in _NOT_BLOCK_ENDS


def basic_blocks(program: Program) -> tuple[Block, ...]:
    """The program's basic blocks in program order (see the module docstring for the leaders)."""
    insns, pcs = program.insns, instruction_starts(program.insns)
    functions = function_starts(program)
    leaders = set(functions)
    for pc in pcs:
        target = jump_target(insns[pc], pc)
        if target is not None:
            leaders.add(target)
        if _ends_block(insns[pc]):
            leaders.add(pc + 1)
    heads = [j for j, pc in enumerate(pcs) if pc in leaders]  # positions in pcs; pcs[0] == 0 is one
    ends = heads[1:] + [len(pcs)]
    return tuple(Block(pcs[j], pcs[end - 1], functions[bisect_right(functions, pcs[j]) - 1])
                 for j, end in zip(heads, ends))


def block_edges(program: Program, blocks: Sequence[Block]) -> tuple[Edge, ...]:
    """Every edge between blocks, in program order of their source; targets that start no block (out of the
    program, into an ``ld_imm64``) are left out, as the loader refuses them anyway."""
    insns = program.insns
    number = {b.first: i for i, b in enumerate(blocks)}
    edges = []
    for i, block in enumerate(blocks):
        spec = insns[block.last].spec
        kinds = ("goto",) if spec is not None and spec.op == "ja" else ("fall", "jump")  # successors' order
        for pc, kind in zip(successors(insns, block.last), kinds):
            if pc in number:
                edges.append(Edge(i, number[pc], kind))
        for pc in range(block.first, block.last + 1):  # calls, and ld_imm64 of a function (a callback)
            if refers_to_function(insns[pc]) and (target := jump_target(insns[pc], pc)) in number:
                edges.append(Edge(i, number[target], "call"))
    return tuple(edges)


# --- the view ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CfgBlock:
    """A block as drawn: instructions ``first``..``last`` (``span``: ``0–4``), the ``text`` of its first
    instruction (its label first), the walk's ``visits`` so far and their shade
    ``heat`` (0 not reached yet, 1–4 darker), whether it holds the ``current`` event, is ``on_path`` (the
    current path), is where the walk ``rejected``; ``first_event`` (the event a click goes to, None if the
    walk never reaches it), its top-left corner ``x``, ``y`` in the SVG, ``label``, the sentence a
    screen reader says, and ``title``, the tooltip: the click, then every instruction of the block (up to
    ``TITLE_INSNS``), one a line; for C, ``source`` names the lines of the program it was compiled from."""

    first: int
    last: int
    span: str
    text: str
    visits: int
    heat: int
    current: bool
    on_path: bool
    rejected: bool
    first_event: int | None
    x: int
    y: int
    label: str
    title: str = ""
    source: str = ""  # for C: the source lines its instructions came from (``C 19–25``), else empty


@dataclass(frozen=True)
class CfgEdge:
    """An edge from the block starting at ``src`` to the one starting at ``dst`` (instruction indexes):
    ``kind`` (fall, jump, goto, call), ``back`` (to the same or an earlier block: a loop), ``on_path``
    (taken on the current path), and ``d``, the SVG path data."""

    src: int
    dst: int
    kind: str
    back: bool
    on_path: bool
    d: str


@dataclass(frozen=True)
class CfgFunction:
    """The heading of a function's blocks: its first instruction ``start``, a ``name`` (the label the
    source gave it, else ``insn N``), at ``x``, ``y`` (the text's baseline)."""

    start: int
    name: str
    x: int
    y: int


@dataclass(frozen=True)
class CfgView:
    """The graph for ``_cfg.html``: ``blocks``, ``edges`` (those on the current path last, so they are
    drawn on top), ``functions`` (their headings; empty when there is only one), the SVG's ``width`` and
    ``height``, ``block_count`` (all blocks, even above the cap), ``limit`` (``MAX_BLOCKS``),
    ``description``, the graph in a few sentences (the SVG's ``<desc>``), the ``legend`` of the shades, and
    the size of a block (``block_width``, ``block_height``). When ``block_count > limit``, ``blocks`` and
    ``edges`` are empty and only the sentence is shown."""

    blocks: tuple[CfgBlock, ...]
    edges: tuple[CfgEdge, ...]
    functions: tuple[CfgFunction, ...]
    width: int
    height: int
    block_count: int
    limit: int
    description: str
    legend: tuple[tuple[int, str], ...] = ()  # (heat, visits it stands for), from heat_legend()
    block_width: int = BLOCK_WIDTH
    block_height: int = BLOCK_HEIGHT

    @property
    def too_big(self) -> bool:
        return self.block_count > self.limit


def heat(visits: int) -> int:
    """The shade of a block: 0 for no visits, then 1 to 4 from the floors in ``HEAT_FLOORS``."""
    return bisect_right(HEAT_FLOORS, visits)


def heat_legend() -> tuple[tuple[int, str], ...]:
    """Each shade with the visits it stands for: ``(1, "1"), (2, "2–3"), …, (4, "8+")``."""
    floors = HEAT_FLOORS
    return tuple((i + 1, str(lo) if hi == lo + 1 else f"{lo}–{hi - 1}" if hi else f"{lo}+")
                 for i, (lo, hi) in enumerate(zip(floors, floors[1:] + (None,))))


def cfg_view(program: Program, events: Sequence[Event], index: int, *, rejected_at: int | None = None,
             texts: Sequence[tuple[int, int, str]] | None = None,
             source_lines: Mapping[int, int] | None = None) -> CfgView:
    """The graph of ``program`` at event ``index`` of the walk ``events`` (clamped into it).

    ``rejected_at`` is the instruction the walk rejected (its block is marked at every event, as in the
    listing); ``texts`` are ``present.insn_rows(program)`` when the caller has them already; ``source_lines``
    maps an instruction to the C line it came from (a compiled program's line info), shown on its block.
    """
    blocks = basic_blocks(program)
    if len(blocks) > MAX_BLOCKS:
        return CfgView((), (), (), 0, 0, len(blocks), MAX_BLOCKS,
                       f"The program has {len(blocks)} basic blocks; the graph is drawn for at most {MAX_BLOCKS}.")
    edges = block_edges(program, blocks)
    index = max(0, min(index, len(events) - 1))
    owner = _owners(blocks, len(program))
    visits, first_event, path = _walk_facts(events, index)
    on_path, steps = _path_on_graph(path, blocks, owner)
    current = _block_of(owner, events[index].insn_idx if events else None)
    rejected = _block_of(owner, rejected_at)
    rows = insn_rows(program) if texts is None else texts
    text_of = {pc: text for pc, _, text in rows}
    ys, x, height, lanes = _layout(blocks, edges)
    spans = [f"{b.first}–{b.last}" if b.last != b.first else str(b.first) for b in blocks]
    drawn = []
    for i, b in enumerate(blocks):
        label = program.labels.get(b.first)
        text = (f"{label}: " if label else "") + text_of.get(b.first, "?")
        count = visits.get(b.first, 0)
        block = CfgBlock(b.first, b.last, spans[i], text, count, heat(count), i == current, i in on_path,
                         i == rejected, first_event.get(b.first), x, ys[i], "",
                         source=_source_span(b, source_lines or {}))
        drawn.append(replace(block, label=_block_label(block, [(spans[e.dst], e.kind) for e in edges if e.src == i]),
                             title=_block_title(block, rows, program.labels)))
    width = block_width(drawn)
    lines = sorted((CfgEdge(blocks[e.src].first, blocks[e.dst].first, e.kind, e.dst <= e.src, (e.src, e.dst) in steps,
                            _edge_path(e, lanes.get(e), x, ys, width)) for e in edges), key=lambda e: e.on_path)
    names = [CfgFunction(b.first, program.labels.get(b.first, f"insn {b.first}"), x, ys[i] - 6)
             for i, b in enumerate(blocks) if b.function == b.first]
    return CfgView(tuple(drawn), tuple(lines), tuple(names) if len(names) > 1 else (),
                   x + width + _extent(lanes, "right") + MARGIN, height, len(blocks), MAX_BLOCKS,
                   _describe(drawn, len(lines), len(names), path, owner, spans), heat_legend(), width)


def block_width(blocks: Sequence[CfgBlock]) -> int:
    """The width of every block: enough for the longest line (span, text and room for a visit count up to
    ``×999``, whatever the event, so the graph keeps its width as the walk goes), between ``BLOCK_WIDTH``
    and ``MAX_BLOCK_WIDTH``."""
    chars = max((len(b.span) + len(b.text) + len(b.source) + 1 + len("×999") for b in blocks), default=0)
    return max(BLOCK_WIDTH, min(MAX_BLOCK_WIDTH, ceil(chars * CHAR_WIDTH) + BLOCK_PADDING))


def _source_span(block: Block, source_lines: Mapping[int, int]) -> str:
    """``C 19–25``: the lowest and highest source line of the block's instructions (empty when none has one)."""
    lines = [source_lines[pc] for pc in range(block.first, block.last + 1) if source_lines.get(pc)]
    if not lines:
        return ""
    low, high = min(lines), max(lines)
    return f"C {low}" if low == high else f"C {low}–{high}"


def _block_title(block: CfgBlock, rows: Sequence[tuple[int, int, str]], labels: dict[int, str]) -> str:
    """The tooltip of a block: what a click does, then its instructions as the listing prints them."""
    head = (f"insns {block.span}: go to the first visit (event {block.first_event})" if block.first_event is not None
            else f"insns {block.span}: the walk never reaches it")
    if block.source:
        head += f" ({block.source.replace('C ', 'C lines ' if '–' in block.source else 'C line ')})"
    insns = [(f"{labels[pc]}:\n" if pc in labels else "") + f"{pc}: {text}"
             for pc, _, text in rows if block.first <= pc <= block.last]
    more = len(insns) - TITLE_INSNS
    return "\n".join([head, *insns[:TITLE_INSNS]] + ([f"… and {more} more"] if more > 0 else []))


def _block_of(owner: Sequence[int], pc: int | None) -> int | None:
    """The number of the block holding instruction ``pc``, or None."""
    return owner[pc] if pc is not None and 0 <= pc < len(owner) else None


def _path_on_graph(path: Sequence[int], blocks: Sequence[Block], owner: Sequence[int]) \
        -> tuple[set[int], set[tuple[int, int]]]:
    """The blocks the path runs through, and the edges it takes as (source, target) block numbers: from
    the last instruction of one block to the first of the next (a subprogram's return is no edge)."""
    on_path = {owner[pc] for pc in path if 0 <= pc < len(owner)}
    steps = {(owner[a], owner[b]) for a, b in pairwise(path)
             if 0 <= a < len(owner) and 0 <= b < len(owner) and blocks[owner[b]].first == b
             and blocks[owner[a]].last == a}
    return on_path, steps


def _block_label(block: CfgBlock, nexts: Sequence[tuple[str, str]]) -> str:
    """What a screen reader says for a block: where it is, what it does, where it goes, and the click."""
    where = f" ({block.source.replace('C ', 'C lines ' if '–' in block.source else 'C line ')})" if block.source else ""
    parts = [f"Block {block.span}{where}, {block.text}", _times(block.visits) + " so far"]
    if block.current:
        parts.append("the current event is here")
    if block.on_path:
        parts.append("on the current path")
    if block.rejected:
        parts.append("the walk rejected the program here")
    if nexts:
        parts.append("then " + ", ".join(span + ("" if kind == "fall" else f" ({kind})") for span, kind in nexts))
    parts.append(f"go to its first visit, event {block.first_event}" if block.first_event is not None
                 else "the walk never reaches it")
    return "; ".join(parts) + "."


def _times(count: int) -> str:
    return "not checked" if count == 0 else "checked once" if count == 1 else f"checked {count} times"


def _owners(blocks: Sequence[Block], n: int) -> list[int]:
    """For each slot, the number of the block holding it (an ``ld_imm64``'s second slot included)."""
    owner = [0] * n
    for i, b in enumerate(blocks):
        end = blocks[i + 1].first if i + 1 < len(blocks) else n
        owner[b.first:end] = [i] * (end - b.first)
    return owner


def _describe(blocks: Sequence[CfgBlock], edge_count: int, functions: int, path: Sequence[int],
              owner: Sequence[int], spans: Sequence[str]) -> str:
    """The graph in sentences: its size, the current block, the current path, the rejection."""
    parts = [f"{len(blocks)} basic block{'s' if len(blocks) != 1 else ''} and {edge_count} "
             f"edge{'s' if edge_count != 1 else ''}" + (f" in {functions} functions." if functions > 1 else ".")]
    current = next((b for b in blocks if b.current), None)
    if current is not None:
        parts.append(f"The current event is in block {current.span}.")
    route = []
    for pc in path:
        if 0 <= pc < len(owner) and (not route or route[-1] != spans[owner[pc]]):
            route.append(spans[owner[pc]])
    if route:
        parts.append("The current path since the last resumed branch: " + " → ".join(route) + ".")
    rejected = next((b for b in blocks if b.rejected), None)
    if rejected is not None:
        parts.append(f"The walk rejected the program in block {rejected.span}.")
    return " ".join(parts)


# --- the walk up to an event --------------------------------------------------------------------------------

def _walk_facts(events: Sequence[Event], index: int) -> tuple[dict[int, int], dict[int, int], list[int]]:
    """Up to event ``index``: visits per instruction and the current path (instructions, in order); over the
    whole walk: the first event reaching each instruction."""
    visits: dict[int, int] = {}
    first_event: dict[int, int] = {}
    pushed_from: list[int] = []  # the jump of each pending branch, oldest first
    path: list[int] = []
    resumed = False
    for i, e in enumerate(events):
        if e.kind in _REACHED:
            first_event.setdefault(e.insn_idx, i)
        if i > index:
            continue
        if e.kind in _VISITS:
            visits[e.insn_idx] = visits.get(e.insn_idx, 0) + 1
        if e.kind == "push_branch":
            pushed_from.append(e.other)
        elif e.kind == "pop_branch":
            path = ([pushed_from.pop()] if pushed_from else []) + [e.insn_idx]
            resumed = True
            continue
        elif e.kind in _REACHED and not (resumed and path and path[-1] == e.insn_idx):
            path.append(e.insn_idx)
        resumed = False
    return visits, first_event, path


# --- layout ---------------------------------------------------------------------------------------------------

def _layout(blocks: Sequence[Block], edges: Sequence[Edge]) -> tuple[list[int], int, int, dict[Edge, tuple[str, int]]]:
    """Block tops, the blocks' left x, the SVG's height, and each side edge's (side, lane)."""
    several = len({b.function for b in blocks}) > 1
    ys, y = [], MARGIN
    for i, b in enumerate(blocks):
        if several and (i == 0 or b.function != blocks[i - 1].function):
            y += FUNCTION_GAP
        ys.append(y)
        y += BLOCK_HEIGHT + GAP
    lanes = _lanes([e for e in edges if not _straight(e)])
    return ys, MARGIN + _extent(lanes, "left"), y - GAP + MARGIN, lanes


def _straight(edge: Edge) -> bool:
    """A fall-through to the next block: a short arrow down the middle."""
    return edge.kind == "fall" and edge.dst == edge.src + 1


def _lanes(edges: Sequence[Edge]) -> dict[Edge, tuple[str, int]]:
    """Side and lane per edge: back edges on the left, others on the right; shortest spans innermost."""
    out: dict[Edge, tuple[str, int]] = {}
    taken: dict[str, list[list[tuple[int, int]]]] = {"left": [], "right": []}
    for e in sorted(edges, key=lambda e: (abs(e.dst - e.src), min(e.src, e.dst), e.src, e.dst, e.kind)):
        side = "left" if e.dst <= e.src else "right"
        lo, hi = min(e.src, e.dst), max(e.src, e.dst)
        lanes = taken[side]
        lane = next((k for k, spans in enumerate(lanes) if all(hi < a or b < lo for a, b in spans)), len(lanes))
        lane = min(lane, MAX_LANES - 1)
        if lane == len(lanes):
            lanes.append([])
        lanes[lane].append((lo, hi))
        out[e] = (side, lane)
    return out


def _extent(lanes: dict[Edge, tuple[str, int]], side: str) -> int:
    """The room the lanes of one side take beside the blocks."""
    used = [lane for s, lane in lanes.values() if s == side]
    return LANE_START + max(used) * LANE + 4 if used else 0


def _edge_path(edge: Edge, lane: tuple[str, int] | None, x: int, ys: Sequence[int], width: int) -> str:
    """SVG path data: straight down for a fall-through to the next block, else out of the source's side
    (low on it), along its lane, and into the target's side (high on it)."""
    if lane is None:
        middle = x + width // 2
        return f"M{middle} {ys[edge.src] + BLOCK_HEIGHT} V{ys[edge.dst] - 1}"
    side, number = lane
    out_y, in_y = ys[edge.src] + BLOCK_HEIGHT * 2 // 3 + 1, ys[edge.dst] + BLOCK_HEIGHT // 3 - 1
    if side == "left":
        lane_x = x - LANE_START - number * LANE
        return f"M{x} {out_y} H{lane_x} V{in_y} H{x - 1}"
    edge_x = x + width
    lane_x = edge_x + LANE_START + number * LANE
    return f"M{edge_x} {out_y} H{lane_x} V{in_y} H{edge_x + 1}"
