"""Tracepoint record layouts, as ``/sys/kernel/tracing/events/<system>/<event>/format`` gives them on
Linux 6.18 x86-64 (read on these machines). A tracepoint program's context points to such a record.

Every record starts with the common header (``common_type`` ... ``common_pid``), which programs may not
read; event fields follow. ``__data_loc`` fields hold ``length << 16 | offset`` of a string stored after
the fixed fields.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TpField:
    name: str
    offset: int
    size: int
    signed: bool = False
    data_loc: bool = False  # a __data_loc string: the value is filled in from a string input
    doc: str = ""


@dataclass(frozen=True)
class TpEvent:
    name: str  # "syscalls/sys_enter_openat"
    id: int  # the event id on the reference kernel (common_type)
    fields: tuple[TpField, ...]
    size: int  # bytes of fixed fields
    doc: str

    def field(self, name: str) -> TpField | None:
        return next((f for f in self.fields if f.name == name), None)


COMMON = (
    TpField("common_type", 0, 2, doc="the event id"),
    TpField("common_flags", 2, 1),
    TpField("common_preempt_count", 3, 1),
    TpField("common_pid", 4, 4, True, doc="the pid of the task that hit the tracepoint"),
)

EVENTS: dict[str, TpEvent] = {e.name: e for e in (
    TpEvent("syscalls/sys_enter_openat", 782, COMMON + (
        TpField("__syscall_nr", 8, 4, True, doc="257 on x86-64"),
        TpField("dfd", 16, 8, doc="directory fd (AT_FDCWD is -100)"),
        TpField("filename", 24, 8, doc="user-space pointer to the path"),
        TpField("flags", 32, 8, doc="O_RDONLY 0, O_WRONLY 1, O_RDWR 2, O_CREAT 0x40, ..."),
        TpField("mode", 40, 8),
    ), 48, "entry of openat(2)"),
    TpEvent("syscalls/sys_exit_openat", 781, COMMON + (
        TpField("__syscall_nr", 8, 4, True),
        TpField("ret", 16, 8, True, doc="the new fd, or -errno"),
    ), 24, "return of openat(2)"),
    TpEvent("sched/sched_process_exec", 365, COMMON + (
        TpField("filename", 8, 4, data_loc=True, doc="__data_loc char[]: the executed file"),
        TpField("pid", 12, 4, True),
        TpField("old_pid", 16, 4, True),
    ), 20, "a task called exec"),
    TpEvent("xdp/xdp_exception", 584, COMMON + (
        TpField("prog_id", 8, 4, True),
        TpField("act", 12, 4, doc="the XDP action that failed"),
        TpField("ifindex", 16, 4, True),
    ), 20, "an XDP program returned XDP_ABORTED or an invalid action"),
)}
