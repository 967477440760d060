"""The verifier: an abstract interpreter that mirrors ``kernel/bpf/verifier.c``.

Built bottom-up: ``tnum`` (tristate numbers, ``kernel/bpf/tnum.c``) and ``bounds`` (the signed and
unsigned 64/32-bit ranges kept consistent as ``reg_bounds_sync`` does) are the value domain every later
part (register state, transfer functions, branches, pruning, the walk) is built on.
"""
