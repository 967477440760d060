"""The printf dialect of ``bpf_trace_printk``, ``bpf_trace_vprintk`` and ``bpf_snprintf``.

It follows ``bpf_bprintf_prepare`` in ``kernel/bpf/helpers.c``: flags ``-+ 0``, a width, ``%%``, ``%c``,
``%s`` (a string read from memory), ``%p``/``%px``/``%pK`` (pointers as hex), and the integer conversions
``d i u x X`` with the length modifiers ``l`` and ``ll``. Without ``l``, integers are 32-bit, as in C's
``int``. Anything else makes the helper fail with -EINVAL.
"""
from __future__ import annotations

from ..vm.machine import GuestFault

MAX_STRING = 256


class PrintfError(Exception):
    pass


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def format_printf(vm, fmt: bytes, args: tuple[int, ...], max_args: int) -> bytes:
    out = bytearray()
    i = 0
    used = 0
    n = len(fmt)
    while i < n:
        c = fmt[i]
        if c != ord("%"):
            out.append(c)
            i += 1
            continue
        i += 1
        if i < n and fmt[i] == ord("%"):
            out.append(ord("%"))
            i += 1
            continue
        flags = ""
        while i < n and chr(fmt[i]) in "-+ 0":
            flags += chr(fmt[i])
            i += 1
        width = ""
        while i < n and chr(fmt[i]).isdigit():
            width += chr(fmt[i])
            i += 1
        if i >= n:
            raise PrintfError("incomplete conversion")
        if used >= min(max_args, len(args)):
            raise PrintfError("more conversions than arguments")
        arg = args[used]
        used += 1
        conv = chr(fmt[i])
        i += 1
        if conv == "c":
            text = chr(arg & 0xFF)
        elif conv == "s":
            text = _string(vm, arg)
        elif conv == "p":
            if i < n and chr(fmt[i]) in "xK":
                i += 1
            text = f"{arg & ((1 << 64) - 1):016x}"
        else:
            bits = 32
            if conv == "l":
                bits = 64
                if i < n and fmt[i] == ord("l"):
                    i += 1
                if i >= n:
                    raise PrintfError("incomplete conversion")
                conv = chr(fmt[i])
                i += 1
            if conv in "di":
                text = str(_signed(arg, bits))
            elif conv == "u":
                text = str(arg & ((1 << bits) - 1))
            elif conv == "x":
                text = f"{arg & ((1 << bits) - 1):x}"
            elif conv == "X":
                text = f"{arg & ((1 << bits) - 1):X}"
            else:
                raise PrintfError(f"unsupported conversion %{conv}")
        out += _pad(text, flags, width).encode("latin-1", "replace")
    return bytes(out)


def _pad(text: str, flags: str, width: str) -> str:
    if "+" in flags and text[:1].isdigit():
        text = "+" + text
    w = int(width) if width else 0
    if "-" in flags:
        return text.ljust(w)
    if "0" in flags and text.lstrip("+-").isalnum():
        sign = text[0] if text[:1] in "+-" else ""
        return sign + text[len(sign):].rjust(w - len(sign), "0")
    return text.rjust(w)


def _string(vm, addr: int) -> str:
    try:
        data = vm.read_cstr(addr, MAX_STRING)
    except GuestFault:
        return "(efault)"
    return data.decode("latin-1")
