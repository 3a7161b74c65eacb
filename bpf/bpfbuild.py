#!/usr/bin/env python3
"""How ringscope's BPF objects are built: the one rule, used by `make bpf`
and by the Python build (setup.py, so `pip wheel .`, `pip install .` and
`python -m build`) alike. Standard library only: it runs inside pip's
isolated build environment, where only clang and libbpf's headers (from the
system) are needed.

    python3 bpf/bpfbuild.py [--out DIR] [--vmlinux pinned|host|FILE]

compiles bpf/*.bpf.c into DIR (default src/ringscope/_bpf). Only objects
whose inputs changed are rebuilt: DIR/build.json records, per object, its
build id, the compiler, the kernel types it was built against, and the
files clang read (from -MD) with their hash.

Kernel types: by default the pinned, minimal vmlinux.h committed for the
target architecture (bpf/vmlinux/<arch>/vmlinux.h, which
bpf/include/vmlinux.h selects). Why pinned rather than the build host's
BTF, and how it is regenerated and checked: bpf/pin_vmlinux.py.
RINGSCOPE_VMLINUX=host (or --vmlinux host) builds against a full dump of
this host's /sys/kernel/btf/vmlinux instead, to try a new field before
pinning it; a path to a header builds against that one (tests).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Paths handed to clang are relative to ROOT (clang runs there), so neither
# the objects nor the record carry the checkout's location.
SRC = Path("bpf")
INCLUDE = SRC / "include"
PINNED = SRC / "vmlinux"
HOST_BTF = Path("/sys/kernel/btf/vmlinux")
DEFAULT_OUT = ROOT / "src" / "ringscope" / "_bpf"
RECORD = "build.json"
SYSCALLS = "syscalls.json"  # the target's syscall numbers, for the syscall source and the BTF twins
# Where linux-libc-dev keeps each architecture's syscall numbers.
UNISTD = {
    "x86_64": ("x86_64-linux-gnu/asm/unistd_64.h", "asm/unistd_64.h"),
    "aarch64": ("asm-generic/unistd.h",),
    "s390x": ("s390x-linux-gnu/asm/unistd_64.h", "asm/unistd_64.h"),
    "ppc64le": ("powerpc64le-linux-gnu/asm/unistd_64.h", "asm/unistd_64.h"),
}
PROVENANCE = " * from: "

Log = Callable[[str], None]


class BuildError(Exception):
    """A build that cannot go on; the message says what to install or run."""


@dataclass(frozen=True)
class Target:
    """The architecture the objects are built for: the build host's."""

    machine: str  # uname -m
    bpf_arch: str  # libbpf's __TARGET_ARCH_<bpf_arch>: selects the pt_regs layout
    wheel_platform: str  # the wheel's platform tag


# manylinux_2_17 is the oldest glibc baseline pip knows on each of these.
# The wheel holds no code linked against glibc (the BPF objects run in the
# kernel, libbpf is loaded from the system), so any glibc Linux of the
# architecture qualifies, and package indexes accept the tag (not linux_*).
_TARGETS = {
    "x86_64": ("x86", "manylinux_2_17_x86_64"),
    "aarch64": ("arm64", "manylinux_2_17_aarch64"),
    "s390x": ("s390", "manylinux_2_17_s390x"),
    "ppc64le": ("powerpc", "manylinux_2_17_ppc64le"),
}


def target(machine: str | None = None) -> Target:
    m = machine or platform.machine()
    if m not in _TARGETS:
        raise BuildError(f"unsupported architecture {m!r} (known: {', '.join(_TARGETS)})")
    return Target(m, *_TARGETS[m])


@dataclass(frozen=True)
class Compiler:
    path: str
    version: str  # first line of `clang --version`


HOLD = "hold"  # bpf/hold.c: the command launcher's hold before exec (src/ringscope/command.py)


def build_hold(cc: Compiler, out: Path, log: Log) -> None:
    """bpf/hold.c, for the machine (not BPF), static so it runs no loader
    after the go; dynamic if this libc has no static archive."""
    src, exe = ROOT / SRC / "hold.c", out / HOLD
    if exe.exists() and exe.stat().st_mtime >= src.stat().st_mtime:
        return
    log(f"  CC      {src.relative_to(ROOT)} -> {HOLD}")
    tmp = out / (HOLD + ".tmp")
    for extra in (["-static"], []):
        proc = subprocess.run([cc.path, "-O2", "-Wall", *extra, "-o", str(tmp), str(src)],
                              capture_output=True, text=True)  # fmt: skip
        if proc.returncode == 0:
            tmp.replace(exe)
            return
    raise BuildError(f"{src}: {cc.path} failed:\n{proc.stderr.rstrip()}")


def find_tool(env: str, name: str, why: str) -> str:
    """A build tool from $env or PATH, or a BuildError saying how to get it."""
    command = os.environ.get(env) or name
    path = shutil.which(command)
    if path is None:
        raise BuildError(f"{command} not found in PATH: {why} (Debian/Ubuntu: apt-get install {name})")
    return path


def find_clang() -> Compiler:
    path = find_tool("CLANG", "clang", "building the BPF objects needs clang")
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=True).stdout
    return Compiler(path, out.splitlines()[0].strip())


def dump_btf(btf: Path) -> str:
    """A BTF file (raw, or an ELF with .BTF) as C, by bpftool."""
    bpftool = find_tool("BPFTOOL", "bpftool", "dumping kernel BTF needs bpftool")
    cmd = [bpftool, "btf", "dump", "file", str(btf), "format", "c"]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def cflags(bpf_arch: str, header: Path | None = None) -> list[str]:
    """The flags of every BPF compile. `header`: a vmlinux.h to use instead
    of the pinned one (bpf/include/vmlinux.h includes RS_VMLINUX_H)."""
    flags = ["-O2", "-g", "-Wall", "-Werror", "-target", "bpf", f"-D__TARGET_ARCH_{bpf_arch}", f"-I{INCLUDE}"]
    if header is not None:
        flags.append(f'-DRS_VMLINUX_H="{header.resolve()}"')
    # DWARF and BTF line info name the compilation directory: keep it out.
    return [*flags, f"-fdebug-prefix-map={ROOT}=."]


def sources() -> list[Path]:
    """Every program source, relative to ROOT."""
    return sorted(p.relative_to(ROOT) for p in (ROOT / SRC).glob("*.bpf.c"))


def object_name(src: Path) -> str:
    return src.name.removesuffix(".c") + ".o"


def pinned_header(bpf_arch: str) -> Path:
    return ROOT / PINNED / bpf_arch / "vmlinux.h"


def _host_header(bpf_arch: str) -> Path:
    if not HOST_BTF.exists():
        raise BuildError(f"building against the host's BTF needs {HOST_BTF} (CONFIG_DEBUG_INFO_BTF)")
    path = ROOT / "build" / "bpf" / "vmlinux-host" / bpf_arch / "vmlinux.h"
    text = dump_btf(HOST_BTF)
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return path


def kernel_types(mode: str, bpf_arch: str) -> tuple[Path | None, str]:
    """The vmlinux.h to build against (None: the pinned one) and how the
    build record describes it."""
    if mode == "pinned":
        pinned = pinned_header(bpf_arch)
        if not pinned.exists():
            raise BuildError(
                f"no pinned vmlinux.h for {bpf_arch} ({pinned.relative_to(ROOT)}): generate it with "
                "`python3 bpf/pin_vmlinux.py` on a BTF kernel of that architecture, or build with "
                "RINGSCOPE_VMLINUX=host"
            )
        lines = pinned.read_text().splitlines()
        origin = next((ln[len(PROVENANCE) :].split(";")[0] for ln in lines if ln.startswith(PROVENANCE)), "?")
        return None, f"pinned {PINNED}/{bpf_arch}/vmlinux.h, from {origin}"
    if mode == "host":
        return _host_header(bpf_arch), f"host BTF, Linux {platform.release()}"
    path = Path(mode)
    if not path.is_file():
        raise BuildError(f"vmlinux {mode!r}: expected pinned, host, or a vmlinux.h file")
    return path, f"file {path.name}"


def build_id(path: Path) -> str:
    """An object's build id: the SHA-1 of its bytes (the width of a GNU
    build id; clang writes none into a relocatable BPF object)."""
    return hashlib.sha1(path.read_bytes()).hexdigest()


def _inputs_hash(compiler: Compiler, flags: list[str], deps: list[str]) -> str:
    h = hashlib.sha256(f"{compiler.version}\0{' '.join(flags)}\0".encode())
    for dep in deps:
        p = ROOT / dep  # absolute deps (system headers) stay absolute
        h.update(dep.encode() + b"\0" + (p.read_bytes() if p.exists() else b"(gone)") + b"\0")
    return h.hexdigest()


def _hint(stderr: str, pinned: bool) -> str:
    if re.search(r"'bpf/bpf_\w+\.h' file not found", stderr):
        return "\nhint: libbpf's headers are missing (Debian/Ubuntu: apt-get install libbpf-dev)"
    if pinned and re.search(r"no member named|unknown type name|incomplete|undeclared identifier", stderr):
        return "\nhint: if a kernel type, field or constant is missing from the pinned vmlinux.h, run `make vmlinux`"
    return ""


def compile_object(cc: Compiler, flags: list[str], src: Path, obj: Path, pinned: bool = True) -> list[str]:
    """Compile one program into `obj` (replaced atomically). Returns the
    files clang read, as it named them."""
    tmp, depfile = obj.with_name(obj.name + ".tmp"), obj.with_name(obj.name + ".d")
    cmd = [cc.path, *flags, "-MD", "-MF", str(depfile), "-c", str(src), "-o", str(tmp)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        depfile.unlink(missing_ok=True)
        raise BuildError(f"{src}: clang failed:\n{proc.stderr.rstrip()}{_hint(proc.stderr, pinned)}")
    text = depfile.read_text().replace("\\\n", " ")
    depfile.unlink()
    tmp.replace(obj)
    return sorted(set(text.split(":", 1)[1].split()))


def _read_record(out: Path) -> dict[str, dict[str, object]]:
    try:
        objects = json.loads((out / RECORD).read_text())["objects"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return objects if isinstance(objects, dict) else {}


def _deps_of(entry: dict[str, object]) -> list[str]:
    deps = entry.get("deps")
    return [str(d) for d in deps] if isinstance(deps, list) else []


def build(out: Path = DEFAULT_OUT, vmlinux: str | None = None, log: Log = print) -> list[Path]:
    """Compile every bpf/*.bpf.c into `out`, rebuilding only the objects
    whose inputs (sources, headers, flags, compiler) changed, and removing
    objects whose source is gone. Returns the objects. Two builds must not
    share one `out` at the same time."""
    mode = vmlinux or os.environ.get("RINGSCOPE_VMLINUX") or "pinned"
    tgt, cc = target(), find_clang()
    header, described = kernel_types(mode, tgt.bpf_arch)
    flags = cflags(tgt.bpf_arch, header)
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    old = _read_record(out)
    objs = {src: out / object_name(src) for src in sources()}
    for stale in set(out.glob("*.bpf.o")) - set(objs.values()):
        stale.unlink()

    def one(src: Path) -> tuple[str, dict[str, object]]:
        obj = objs[src]
        entry, deps = old.get(obj.name, {}), _deps_of(old.get(obj.name, {}))
        current = obj.exists() and deps and entry.get("build_id") == build_id(obj)
        if not (current and entry.get("inputs") == _inputs_hash(cc, flags, deps)):
            log(f"  CLANG   {src} -> {obj.name}")
            deps = compile_object(cc, flags, src, obj, pinned=header is None)
            entry = {"clang": cc.version, "vmlinux": described}
        inputs = _inputs_hash(cc, flags, deps)
        return obj.name, {**entry, "build_id": build_id(obj), "inputs": inputs, "deps": deps}

    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        entries = dict(sorted(pool.map(one, objs)))
    write_syscalls(out, tgt.machine)
    build_hold(cc, out, log)
    tmp = out / (RECORD + ".tmp")
    tmp.write_text(json.dumps({"format": 1, "arch": tgt.bpf_arch, "objects": entries}, indent=1) + "\n")
    tmp.replace(out / RECORD)
    return list(objs.values())


def syscall_table(machine: str, include: Path = Path("/usr/include")) -> dict[str, int]:
    """Syscall names to numbers for `machine`, from the build host's
    asm/unistd header (generated into the package: the target may have no
    kernel headers)."""
    for rel in UNISTD.get(machine, ()):
        path = include / rel
        if path.exists():
            found = re.findall(r"#define __NR_(\w+)\s+(\d+)\b", path.read_text())
            return {name: int(nr) for name, nr in found}
    raise BuildError(f"no asm/unistd header for {machine} under {include} (apt-get install linux-libc-dev)")


def write_syscalls(out: Path, machine: str) -> None:
    text = (
        json.dumps({"machine": machine, "syscalls": syscall_table(machine)}, indent=0, sort_keys=True) + "\n"
    )
    path = out / SYSCALLS
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bpf/bpfbuild.py", description="Build ringscope's BPF objects.")
    p.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output directory (default src/ringscope/_bpf)"
    )
    p.add_argument("--vmlinux", help="pinned (default), host, or a vmlinux.h file (also RINGSCOPE_VMLINUX)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    args = p.parse_args(argv)
    try:
        build(args.out, args.vmlinux, log=(lambda _: None) if args.quiet else print)
    except BuildError as e:
        print(f"bpfbuild: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
