"""A self-contained SVG flame graph (no scripts, no external files): one
rectangle per frame, width proportional to samples, root at the bottom,
a <title> on each for the full name and share. Opens in any browser."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from .report import Stack

__all__ = ["svg"]

ROW = 16  # px per stack level
WIDTH = 1200
MIN_PX = 0.3  # narrower frames are not drawn (they would be invisible)
# One bad stack (a frame-pointer walk through code without frame pointers
# yields 127 garbage frames) must not make the picture 2,000 px tall and
# push the real graph off-screen: stacks are cut at MAX_DEPTH frames from
# the root, the rest folded into one "[N more frames]" box.
MAX_DEPTH = 64


@dataclass
class _Node:
    name: str
    kernel: bool = False
    count: int = 0
    children: dict[str, _Node] = field(default_factory=dict)


def _tree(stacks: list[Stack]) -> _Node:
    root = _Node("all")
    for st in stacks:
        root.count += st.count
        node = root.children.setdefault(f"comm:{st.comm}", _Node(st.comm))
        node.count += st.count
        for f in st.frames[:MAX_DEPTH]:
            node = node.children.setdefault(f"{f.kernel}:{f.name}", _Node(f.name, f.kernel))
            node.count += st.count
        if len(st.frames) > MAX_DEPTH:
            name = f"[{len(st.frames) - MAX_DEPTH} more frames]"
            node = node.children.setdefault(name, _Node(name))
            node.count += st.count
    return root


def _depth(node: _Node, min_count: float) -> int:
    """Levels drawn: frames too narrow to draw do not make the image taller."""
    return 1 + max((_depth(c, min_count) for c in node.children.values() if c.count >= min_count), default=0)


def _color(node: _Node) -> str:
    # A stable warm hue per name, kernel frames in the orange band as in
    # flamegraph.pl, user frames red-yellow.
    h = sum(node.name.encode()) % 40
    return f"rgb(230,{120 + h * 2},{40 + h})" if node.kernel else f"rgb(225,{60 + h * 3},{50 + h // 2})"


def _draw(node: _Node, x: float, level: int, height: int, scale: float, total: int, out: list[str]) -> None:
    w = node.count * scale
    if w < MIN_PX:
        return
    y = height - (level + 1) * ROW
    pct = 100.0 * node.count / total
    label = escape(node.name)
    text = label if w > 30 else ""
    if text and len(node.name) * 7 > w:
        text = escape(node.name[: max(1, int(w / 7) - 2)]) + ".."
    out.append(
        f"<g><title>{label} ({node.count} samples, {pct:.2f}%)</title>"
        f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{ROW - 1}" fill="{_color(node)}" rx="2"/>'
        f'<text x="{x + 3:.1f}" y="{y + ROW - 4}">{text}</text></g>'
    )
    cx = x
    for child in sorted(node.children.values(), key=lambda c: c.name):
        _draw(child, cx, level + 1, height, scale, total, out)
        cx += child.count * scale


def svg(stacks: list[Stack], title: str = "Flame graph") -> str:
    root = _tree(stacks)
    total = max(root.count, 1)
    height = (_depth(root, MIN_PX * total / WIDTH) + 2) * ROW
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="monospace" font-size="11">',
        '<rect width="100%" height="100%" fill="#fdfdf5"/>',
        f'<text x="{WIDTH / 2}" y="{ROW}" text-anchor="middle" font-size="14">{escape(title)}</text>',
    ]
    _draw(root, 0.0, 0, height, WIDTH / total, total, out)
    out.append("</svg>")
    return "\n".join(out) + "\n"
