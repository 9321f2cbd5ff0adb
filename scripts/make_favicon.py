"""Renders static/cx/favicon.svg into public/favicon.ico (16, 32 and 48 px PNGs in one ICO) with Chromium.

Run again after changing the SVG: .venv/bin/python scripts/make_favicon.py
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
SVG = ROOT / "static" / "cx" / "favicon.svg"
ICO = ROOT / "public" / "favicon.ico"
SIZES = (16, 32, 48)


def render(sizes: tuple[int, ...]) -> list[bytes]:
    svg = SVG.read_text()
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CX_CHROMIUM", "/usr/bin/chromium"), headless=True, args=args
        )
        images = []
        for size in sizes:
            page = browser.new_page(viewport={"width": size, "height": size})
            sized = svg.replace("<svg ", f'<svg style="display:block;width:{size}px;height:{size}px" ', 1)
            page.set_content(f'<body style="margin:0;background:transparent">{sized}</body>')
            images.append(page.screenshot(omit_background=True))
            page.close()
        browser.close()
    return images


def ico(images: list[bytes], sizes: tuple[int, ...]) -> bytes:
    """ICONDIR, one ICONDIRENTRY per image, then the PNGs (PNG-in-ICO: every browser since 2010 reads it)."""
    header = struct.pack("<HHH", 0, 1, len(images))
    offset = 6 + 16 * len(images)
    entries, blobs = b"", b""
    for size, png in zip(sizes, images, strict=True):
        entries += struct.pack("<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(png), offset)
        blobs += png
        offset += len(png)
    return header + entries + blobs


if __name__ == "__main__":
    ICO.parent.mkdir(exist_ok=True)
    ICO.write_bytes(ico(render(SIZES), SIZES))
    print(f"wrote {ICO} ({ICO.stat().st_size} bytes)")
