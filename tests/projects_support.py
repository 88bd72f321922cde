"""Shared helpers for the projects tests: small generated files and project set-up."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def media_dir(tmp_path, monkeypatch):
    """Every projects test keeps its uploads in its own folder."""
    folder = tmp_path / "media"
    monkeypatch.setenv("FABBOOKING_MEDIA_DIR", str(folder))
    return folder


def png(width: int = 64, height: int = 48, colour=(200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def jpeg_with_gps(width: int = 60, height: int = 40) -> bytes:
    """A JPEG whose EXIF says where it was taken and that it is rotated."""
    image = Image.new("RGB", (width, height), (10, 120, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° to show
    exif[0x010F] = "PhoneMaker"
    gps = {1: "N", 2: (48.0, 23.0, 30.0), 3: "W", 4: (4.0, 29.0, 10.0)}
    exif[0x8825] = gps
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def binary_stl(triangles: int = 2) -> bytes:
    body = b"".join(struct.pack("<12fH", *([0.0] * 12), 0) for _ in range(triangles))
    return b"binary stl".ljust(80, b" ") + struct.pack("<I", triangles) + body


ASCII_STL = b"solid cube\n facet normal 0 0 1\n  outer loop\n   vertex 0 0 0\n   vertex 1 0 0\n" \
            b"   vertex 0 1 0\n  endloop\n endfacet\nendsolid cube\n"
DXF = (b"0\nSECTION\n2\nHEADER\n0\nENDSEC\n0\nSECTION\n2\nENTITIES\n"
       b"0\nLINE\n8\n0\n10\n0\n20\n0\n11\n10\n21\n10\n0\nENDSEC\n0\nEOF\n")
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="5" height="5"/></svg>'
SVG_WITH_SCRIPT = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
SVG_WITH_ENTITIES = (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
                     b'<svg xmlns="http://www.w3.org/2000/svg"><text>&b;</text></svg>')


def three_mf(extra_unpacked: int = 0) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("3D/3dmodel.model", '<?xml version="1.0"?><model unit="millimeter"></model>')
        if extra_unpacked:
            archive.writestr("Metadata/padding.bin", b"\0" * extra_unpacked)
    return out.getvalue()


async def new_project(client, world, who: str = "maker", **values) -> dict:
    body = {"title": "Lampe en bois", "summary": "Une lampe de chevet", "tags": ["Bois", "lampe"], **values}
    response = await client.post("/api/v1/projects", json=body, headers=world.auth(who))
    assert response.status_code == 201, response.text
    return response.json()


async def upload(client, world, slug: str, name: str, data: bytes, who: str = "maker", **fields):
    return await client.post(f"/api/v1/projects/{slug}/media", headers=world.auth(who),
                             files={"file": (name, data, "application/octet-stream")},
                             data={k: str(v) for k, v in fields.items()})

