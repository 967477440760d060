"""Maps of maps: lookups return inner maps that the map helpers then use; the kernel's shape checks."""
from __future__ import annotations

import pytest

from app.ebpf import assemble
from app.ebpf.errors import InputError
from app.ebpf.vm import MapSeed, run

PACKET = bytes(60)
PROGRAM = """
.map inner_a type=array key_size=4 value_size=8 max_entries=2
.map inner_b type=array key_size=4 value_size=8 max_entries=2
.map odd type=array key_size=4 value_size=4 max_entries=2
.map outer type={kind} key_size=4 value_size=4 max_entries=4 inner=inner_a
    r1 = {slot}
    *(u32 *)(r10 - 4) = r1
    r1 = outer ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem       # the inner map, or NULL
    r0 = 99
    if r0 == 0 goto out
    r1 = r0
    r1 = 0
    *(u32 *)(r10 - 8) = r1
    r1 = outer ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto none
    r1 = r0
    r2 = r10
    r2 += -8
    call bpf_map_lookup_elem       # inner[0]
    if r0 == 0 goto none
    r1 = 5
    lock *(u64 *)(r0 + 0) += r1
    r0 = 2
    goto out
none:
    r0 = 1
out:
    exit
"""


def seed(slot: int, map_index: int) -> MapSeed:
    return MapSeed("outer", slot.to_bytes(4, "little"), map_index.to_bytes(4, "little"))


@pytest.mark.parametrize("kind", ["array_of_maps", "hash_of_maps"])
def test_lookup_gives_an_inner_map(kind):
    program = assemble(PROGRAM.format(kind=kind, slot=3))
    r = run(program, prog_type="xdp", packet=PACKET, seeds=(seed(3, 1),))
    assert r.retval == 2 and r.fault is None
    assert r.maps[1]["entries"]["00000000"] == (5).to_bytes(8, "little").hex()  # inner_b was updated
    assert r.maps[0]["entries"]["00000000"] == bytes(8).hex()
    empty = run(program, prog_type="xdp", packet=PACKET)
    assert empty.retval == 1


@pytest.mark.parametrize("kind", ["array_of_maps", "hash_of_maps"])
def test_inner_maps_must_match_the_template(kind):
    program = assemble(PROGRAM.format(kind=kind, slot=0))
    with pytest.raises(InputError, match="EINVAL"):
        run(program, prog_type="xdp", packet=PACKET, seeds=(seed(0, 2),))  # 'odd' has another value size
    with pytest.raises(InputError, match="EINVAL"):
        run(program, prog_type="xdp", packet=PACKET, seeds=(seed(0, 3),))  # maps of maps do not nest


def test_the_assembler_wants_a_template():
    with pytest.raises(Exception, match="needs inner=MAP"):
        assemble(".map o type=array_of_maps key_size=4 value_size=4 max_entries=1")
