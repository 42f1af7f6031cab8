"""Turn the voucher page's inline SVG (segno's path of horizontal strokes) back into pixels so a
real QR decoder (zxing-cpp) can read it: proof that what the member's phone shows scans."""

from __future__ import annotations

import re

from PIL import Image, ImageDraw


def svg_qr_to_image(svg: str, *, px: int = 8) -> Image.Image:
    d = re.search(r'\sd="([^"]+)"', svg)
    size = re.search(r'width="(\d+)"', svg) or re.search(r'viewBox="0 0 (\d+)', svg)
    scale = re.search(r"scale\((\d+)\)", svg)
    assert d and size, "no QR path in the page"
    modules = int(size.group(1)) // (int(scale.group(1)) if scale else 1)
    img = Image.new("L", (modules * px, modules * px), 255)
    draw = ImageDraw.Draw(img)
    x = y = 0.0
    for cmd, args in re.findall(r"([MmHhVv])([^MmHhVv]*)", d.group(1)):
        nums = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", args)]
        if cmd == "M":
            x, y = nums[0], nums[1]
        elif cmd == "m":
            x, y = x + nums[0], y + nums[1]
        elif cmd in "hH":
            end = x + nums[0] if cmd == "h" else nums[0]
            top = (y - 0.5) * px
            draw.rectangle([x * px, top, end * px - 1, top + px - 1], fill=0)
            x = end
        else:
            raise AssertionError(f"unexpected path command {cmd}")
    return img
