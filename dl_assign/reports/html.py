"""The Markdown subset the reports use, as one self-contained HTML page (figures inlined as base64).

Headings, paragraphs, pipe tables, bullet lists, fenced code, images, ``**bold**``, ``*italic*``,
`` `code` `` and links. The MISSING marker becomes red text. Enough for the reports and the
experiments' notes they include; not a general Markdown implementation.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

STYLE = ("body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;line-height:1.45}"
         "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #bbb;padding:.2em .5em;font-size:.9em}"
         "code,pre{background:#f4f4f4}pre{padding:.5em;overflow-x:auto}img{max-width:100%}"
         ".missing{color:#c00;font-weight:bold}")
BULLET = re.compile(r"^\s*[-*] ")


MAX_WIDTH = 1000  # px of an inlined figure (wider ones are scaled down, box filter)
COLOURS = 64  # palette of an inlined figure


def compact_png(raw: bytes) -> bytes:
    """A figure as inlined: at most ``MAX_WIDTH`` px wide, ``COLOURS`` colours, optimised PNG (deterministic).

    The reports are committed, every regeneration again: the five pages came to 15 MB with the figures
    as they are (9.3 MB of PNGs, x4/3 in base64); 1,400 px and 256 colours left Assignment-3's page at
    2.8 MB, these settings keep every page under 2 MB. The full-quality figures stay in results/.
    """
    import io

    from PIL import Image

    with Image.open(io.BytesIO(raw)) as im:
        im = im.convert("RGB")
        if im.width > MAX_WIDTH:
            im = im.resize((MAX_WIDTH, round(im.height * MAX_WIDTH / im.width)), Image.BOX)
        out = io.BytesIO()
        im.quantize(COLOURS, method=Image.Quantize.MEDIANCUT).save(out, "PNG", optimize=True)
    return out.getvalue() if out.tell() < len(raw) else raw


def _image(alt: str, src: str, base: Path) -> str:
    path = (base / src).resolve()
    if not path.exists():
        return f'<span class="missing">MISSING</span> figure {html.escape(src)}'
    data = base64.b64encode(compact_png(path.read_bytes())).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _inline(text: str, base: Path) -> str:
    codes: list[str] = []  # code spans and images are set aside first, so **`x`** and links work around them
    images: list[str] = []

    def code(m):
        codes.append(f"<code>{html.escape(m[1])}</code>")
        return f"\1{len(codes) - 1}\1"

    def image(m):
        images.append(_image(m[1], m[2], base))
        return f"\0{len(images) - 1}\0"

    text = re.sub(r"`([^`]*)`", code, text)
    text = re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", image, text)
    text = html.escape(text, quote=False)
    text = text.replace("**MISSING**", '<span class="missing">MISSING</span>')
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", text)
    text = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r'<a href="\2">\1</a>', text)
    text = re.sub(r"\0(\d+)\0", lambda m: images[int(m[1])], text)
    return re.sub(r"\x01(\d+)\x01", lambda m: codes[int(m[1])], text)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def to_html(md: str, *, title: str, base: str | Path) -> str:
    base = Path(base)
    lines = md.splitlines()
    body: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            body.append("<pre><code>" + html.escape("\n".join(lines[i + 1:j])) + "</code></pre>")
            i = j + 1
        elif m := re.match(r"(#{1,6})\s+(.*)", line):
            level = len(m[1])
            body.append(f"<h{level}>{_inline(m[2], base)}</h{level}>")
            i += 1
        elif line.startswith("|"):
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            rows = [r for r in lines[i:j] if not re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", r.strip())]
            head, *rest = rows
            cells = "".join(f"<th>{_inline(c, base)}</th>" for c in _cells(head))
            trs = "".join("<tr>" + "".join(f"<td>{_inline(c, base)}</td>" for c in _cells(r)) + "</tr>" for r in rest)
            body.append(f"<table><thead><tr>{cells}</tr></thead><tbody>{trs}</tbody></table>")
            i = j
        elif BULLET.match(line):
            j = i
            items = []
            while j < len(lines) and BULLET.match(lines[j]):
                items.append("<li>" + _inline(BULLET.sub("", lines[j], count=1), base) + "</li>")
                j += 1
            body.append("<ul>" + "".join(items) + "</ul>")
            i = j
        elif line.startswith("<!--"):
            body.append(line)  # the architecture markers pass through as comments
            i += 1
        elif line.strip():
            j = i
            while (j < len(lines) and lines[j].strip() and not lines[j].startswith(("```", "#", "|", "<!--"))
                   and not BULLET.match(lines[j])):
                j += 1
            body.append("<p>" + _inline(" ".join(lines[i:j]), base) + "</p>")
            i = j
        else:
            i += 1
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
