#!/usr/bin/env python3
"""Generates the pinned, minimal vmlinux.h the BPF objects are built
against: `make vmlinux`, or

    python3 bpf/pin_vmlinux.py [--btf FILE] [--machine M] [--output FILE]

(default: this host's /sys/kernel/btf/vmlinux and architecture, written to
bpf/vmlinux/<arch>/vmlinux.h).

Why every build uses a pinned header rather than the build host's BTF:
  - the objects are a function of the sources and the compiler only. A
    wheel built on a laptop, in CI or on a build host without
    /sys/kernel/btf/vmlinux (containers, other kernels) has the same
    bytes, and CI tests exactly what ships. "Host BTF when present, else
    a pinned fallback" would build the fallback on no host that has BTF,
    so it would rot untested;
  - CO-RE makes the generating kernel irrelevant at run time: every field
    access is recorded as a relocation (type and field *names*), and
    libbpf resolves it against the running kernel's BTF at load.

Why minimal: a full dump is 3 MB per architecture and per refresh, nearly
all of it unused. This header holds what the programs use and nothing else:
  - the structs and fields their CO-RE relocations name, from
    `bpftool gen min_core_btf` run on objects built against the full dump
    (bpftool keeps each struct's size and pads the unused members, so
    sizeof() and by-value structs stay right);
  - the typedefs and enum constants (BPF_MAP_TYPE_*, BPF_ANY, bool, ...)
    the programs and libbpf's headers use by name, which are not
    relocations, copied whole from the full dump;
  - the structs in WHOLE, whose layout user space reads from the objects'
    BTF (pt_regs: USDT register offsets), copied whole too.
It is ~12 KB, reviewed like code: a diff shows what a program started to use.

Per architecture: struct pt_regs differs, so each architecture has its
own header (bpf/include/vmlinux.h picks one by __TARGET_ARCH_*). Only x86
is committed, generated here; another needs a BTF of that architecture
(its /sys/kernel/btf/vmlinux, or a distribution's vmlinux via --btf).

How it is checked: this script compiles every program against the header
it wrote; tests/packaging regenerate it on the test host (byte-identical
when the kernel, bpftool and clang are those it names), and build objects
from a copy in which task_struct's, pt_regs' and the tracepoint records'
members are moved by 8 bytes, which must still yield correct events on
this kernel (and wrong ones with relocation turned off): proof that the
fields are relocated, not read at the offsets written here.
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import bpfbuild
from bpfbuild import ROOT, BuildError, Compiler, Target

IDENT = re.compile(r"\b[A-Za-z_]\w*\b")
# Structs whose layout user space reads from the objects' BTF instead of
# through CO-RE relocations, so they are copied whole: USDT arguments name
# registers, and sources/usdt.py computes their offsets in pt_regs.
WHOLE = ("pt_regs", "user_pt_regs")
KINDS = ("typedef ", "struct ", "union ", "enum ")
PREAMBLE = """\
#ifndef __VMLINUX_H__
#define __VMLINUX_H__

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
#endif
"""
POSTAMBLE = """\
#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* __VMLINUX_H__ */
"""


def blocks(dump: str) -> list[str]:
    """The type declarations of a bpftool `format c` dump, in its order
    (bpftool separates them by blank lines and orders them by dependency)."""
    return [b for b in (x.strip("\n") for x in dump.split("\n\n")) if b.startswith(KINDS)]


def defines(block: str) -> set[str]:
    """The names a declaration introduces: a typedef's name, an enum's
    constants, and tags as "struct X", "union X", "enum X"."""
    head = block.split("\n", 1)[0]
    if head.startswith("typedef "):
        fn = re.search(r"\(\s*\*?\s*(\w+)\s*\)\s*\(", head)  # typedef int (*name)(...);
        return {fn[1]} if fn else set(re.findall(r"(\w+)(?:\[[^\]]*\])*;$", block.rstrip())[-1:])
    tag = re.match(r"(struct|union|enum) (\w+)", head)
    names = {f"{tag[1]} {tag[2]}"} if tag else set()
    if head.startswith("enum "):
        names |= set(re.findall(r"^\t(\w+)(?: = [^,]*)?,$", block, re.M))
    return names


def _uses(block: str) -> set[str]:
    """What a declaration names: identifiers, and tagged types for a struct
    or union copied whole (its members by value need their definitions)."""
    names = set(IDENT.findall(block))
    tagged = {f"{k} {n}" for k, n in re.findall(r"\b(struct|union|enum) (\w+)", block)}
    whole = block.startswith(("struct ", "union "))
    return names | {t for t in tagged if whole or t.startswith("enum ")}


def copied_whole(full: list[str], used: set[str]) -> list[str]:
    """The declarations of `full` copied as they are, in dump order: the
    typedefs and enums `used` names, the structs in WHOLE, and what those
    need in turn. (The structs programs relocate come from min_core_btf.)"""
    index: dict[str, int] = {}
    for i, b in enumerate(full):
        for name in defines(b):
            if name not in index or "{" not in full[index[name]]:  # a definition beats a forward one
                index[name] = i
    chosen: set[int] = set()
    todo = [index[n] for n in used | {f"struct {w}" for w in WHOLE} if n in index]
    while todo:
        i = todo.pop()
        if i not in chosen:
            chosen.add(i)
            todo += [index[n] for n in _uses(full[i]) if n in index]
    return [full[i] for i in sorted(chosen)]


def _run(cmd: list[str]) -> str:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout


def identifiers(cc: Compiler, tgt: Target, empty: Path) -> set[str]:
    """Every identifier the programs and the headers they include use, with
    no kernel types defined (so nothing comes from vmlinux.h itself)."""
    flags = bpfbuild.cflags(tgt.bpf_arch, empty)
    return {
        t for src in bpfbuild.sources() for t in IDENT.findall(_run([cc.path, *flags, "-E", "-P", str(src)]))
    }


def _origin(btf: Path, tgt: Target, cc: Compiler) -> str:
    digest = hashlib.sha256(btf.read_bytes()).hexdigest()[:16]
    what = (
        f"Linux {platform.release()} {tgt.machine}"
        if btf == bpfbuild.HOST_BTF
        else f"{btf.name} ({tgt.machine})"
    )
    out = _run([bpfbuild.find_tool("BPFTOOL", "bpftool", "needed to read BTF"), "version"])
    bpftool = re.search(r"\bv\d+\S*", out)  # the first line starts with argv[0]: no path here
    return f"{what} BTF (sha256 {digest}); bpftool {bpftool[0] if bpftool else '?'}; {cc.version}"


def render(types: list[str], tgt: Target, origin: str) -> str:
    head = f"""\
/* GENERATED by `make vmlinux` (bpf/pin_vmlinux.py): do not edit.
 *
 * The kernel types ringscope's BPF programs use, for {tgt.bpf_arch}: the structs
 * and fields their CO-RE relocations name, the typedefs and enum constants
 * they use by name, and {", ".join(WHOLE)} whole where the kernel has it
 * (user space reads its layout). Offsets are those of the kernel below;
 * libbpf relocates each field access by name against the running kernel's BTF.
 *
{bpfbuild.PROVENANCE}{origin}
 */
"""
    return head + PREAMBLE + "\n" + "\n\n".join(types) + "\n\n" + POSTAMBLE


def generate(btf: Path, tgt: Target) -> str:
    """The minimal header for `tgt`, from `btf`, checked by compiling every
    program against it."""
    cc = bpfbuild.find_clang()
    with tempfile.TemporaryDirectory(prefix="rs-vmlinux-") as tmp_name:
        tmp = Path(tmp_name)
        full_h, empty_h, pinned_h = tmp / "full.h", tmp / "empty.h", tmp / "vmlinux.h"
        full_h.write_text(bpfbuild.dump_btf(btf))
        empty_h.write_text("")
        objs = []
        for src in bpfbuild.sources():
            objs.append(tmp / bpfbuild.object_name(src))
            bpfbuild.compile_object(cc, bpfbuild.cflags(tgt.bpf_arch, full_h), src, objs[-1], pinned=False)
        bpftool = bpfbuild.find_tool("BPFTOOL", "bpftool", "needed for min_core_btf")
        _run([bpftool, "gen", "min_core_btf", str(btf), str(tmp / "min.btf"), *map(str, objs)])
        relocated = blocks(bpfbuild.dump_btf(tmp / "min.btf"))
        whole = copied_whole(blocks(full_h.read_text()), identifiers(cc, tgt, empty_h))
        have = set().union(*map(defines, whole))
        types = whole + [b for b in relocated if not defines(b) & have]
        text = render(types, tgt, _origin(btf, tgt, cc))
        pinned_h.write_text(text)
        for src in bpfbuild.sources():
            bpfbuild.compile_object(
                cc, bpfbuild.cflags(tgt.bpf_arch, pinned_h), src, tmp / "check.o", pinned=False
            )
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bpf/pin_vmlinux.py", description="Regenerate the pinned vmlinux.h.")
    p.add_argument("--btf", type=Path, default=bpfbuild.HOST_BTF, help="kernel BTF (default: this kernel's)")
    p.add_argument("--machine", help="target architecture as uname -m says it (default: this host's)")
    p.add_argument("--output", type=Path, help="default bpf/vmlinux/<arch>/vmlinux.h")
    args = p.parse_args(argv)
    try:
        tgt = bpfbuild.target(args.machine)
        if not args.btf.exists():
            raise BuildError(f"{args.btf}: no such BTF file")
        out = args.output or bpfbuild.pinned_header(tgt.bpf_arch)
        text = generate(args.btf, tgt)
    except BuildError as e:
        print(f"pin_vmlinux: error: {e}", file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"wrote {out} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
