"""Which C compiler to use and the exact command line it gets.

Choice, in order:

1. ``EBPF_PLAYGROUND_CC`` in the environment: ``none`` (or ``off``) switches C off; ``zig``/``ziglang``
   asks for the PyPI package; anything else is a clang binary, by path or name on ``PATH``
   (``/usr/bin/clang-19`` on Debian).
2. The PyPI package ``ziglang`` (``pip install ziglang``): it bundles clang and the Linux UAPI headers and
   needs nothing from the system; ``zig cc -target bpfel-freestanding`` compiles for BPF.
3. Nothing: C is unavailable, and :func:`app.ebpf.cc.compile_c` says so in its result.

Every option on the command line is ours (``options`` are validated against fixed sets before they get
here), so a program cannot inject flags such as ``-Xclang`` or ``-fplugin``.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "EBPF_PLAYGROUND_CC"

CPUS = ("v1", "v2", "v3", "v4")
OPT_LEVELS = ("0", "1", "2", "3", "s")

# Directories a dynamically linked system clang reads at start-up (loader cache, shared libraries).
_SYSTEM_LIB_PATHS = ("/etc/ld.so.cache", "/lib", "/lib64", "/usr/lib", "/usr/lib64")


@dataclass(frozen=True)
class Toolchain:
    """A compiler the playground can run. ``kind`` is ``zig`` or ``clang``; ``read_paths`` are what the
    sandbox lets it read and execute."""

    kind: str
    executable: str
    read_paths: tuple[str, ...]

    def command(self, *, source: str, output: str, include_dir: str, deps: str, prefix_map: str, cpu: str,
                optimize: str, debug: bool, preprocess_only: bool = False) -> list[str]:
        """The full argv. Flags shared by both compilers:

        ``-nostdinc -isystem <ours>``: our include directory only. ``-fno-raw-string-literals``: see
        :mod:`.scan`. ``-Werror=date-time``: ``__DATE__``/``__TIME__`` would make builds differ.
        ``-ffile-prefix-map``: no temporary path in debug info, BTF or ``__FILE__`` (``program.c``,
        ``include/bpf/bpf_helpers.h``; the later, longer prefix wins). ``-MD -MF``: the list
        of files the compiler read, checked afterwards.
        """
        if self.kind == "zig":
            head = [self.executable, "cc", "-target", "bpfel-freestanding"]
        else:
            head = [self.executable, "--target=bpfel", "--no-default-config", "-ffreestanding"]
        flags = [f"-mcpu={cpu}", f"-O{optimize}"]
        if debug:
            flags.append("-g")
        flags += ["-nostdinc", "-isystem", include_dir, "-fno-raw-string-literals", "-Werror=date-time",
                  "-fno-color-diagnostics", "-Wno-unused-command-line-argument", "-ferror-limit=20", "-fmacro-backtrace-limit=4", "-fno-crash-diagnostics",
                  f"-ffile-prefix-map={prefix_map}/=", f"-ffile-prefix-map={prefix_map}/src=", "-MD", "-MF", deps]
        flags += ["-E", source, "-o", output] if preprocess_only else ["-c", source, "-o", output]
        return head + flags

    def env(self, sandbox_dir: str) -> dict[str, str]:
        """The compiler's whole environment: a temporary directory inside the sandbox, and zig's caches."""
        env = {"TMPDIR": f"{sandbox_dir}/tmp", "LC_ALL": "C"}
        if self.kind == "zig":
            env["ZIG_GLOBAL_CACHE_DIR"] = env["ZIG_LOCAL_CACHE_DIR"] = f"{sandbox_dir}/zig-cache"
        return env

    @property
    def description(self) -> str:
        return f"{self.kind} ({self.version})" if self.version else self.kind

    @property
    def version(self) -> str:
        return _version(self.kind, self.executable)


@functools.cache
def _version(kind: str, executable: str) -> str:
    """``zig 0.17.1`` or clang's first ``--version`` line; empty if the compiler does not answer."""
    argv = [executable, "version"] if kind == "zig" else [executable, "--version"]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, env={}, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    first = out.strip().splitlines()[0] if out.strip() else ""
    return f"zig {first}" if kind == "zig" and first else first


def _ziglang() -> Toolchain | None:
    spec = importlib.util.find_spec("ziglang")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        exe = Path(loc) / "zig"
        if exe.is_file() and os.access(exe, os.X_OK):
            root = str(Path(loc).resolve())
            return Toolchain("zig", str(exe.resolve()), (root,))
    return None


def _clang(name: str) -> Toolchain | None:
    found = shutil.which(name)
    if found is None:
        return None
    real = Path(found).resolve()
    install = str(real.parent.parent)  # /usr/lib/llvm-19 for /usr/lib/llvm-19/bin/clang
    return Toolchain("clang", str(real), (install, str(real.parent), *_SYSTEM_LIB_PATHS))


def find_toolchain(environ: dict[str, str] | None = None) -> tuple[Toolchain | None, str]:
    """The toolchain to use and, when there is none, a sentence saying why and what to do."""
    environ = os.environ if environ is None else environ
    choice = environ.get(ENV_VAR, "").strip()
    if choice.lower() in ("none", "off"):
        return None, f"C compilation is switched off on this server ({ENV_VAR}={choice})."
    if choice.lower() in ("zig", "ziglang"):
        tc = _ziglang()
        return tc, "" if tc else f"{ENV_VAR}={choice} asks for the ziglang package, which is not installed."
    if choice:
        tc = _clang(choice)
        return tc, "" if tc else f"{ENV_VAR}={choice}: no such compiler on this server."
    tc = _ziglang()
    if tc is None:
        return None, ("No C compiler is available on this server: install the Python package ziglang "
                      f"(pip install ziglang) or set {ENV_VAR} to a clang binary such as /usr/bin/clang-19.")
    return tc, ""
