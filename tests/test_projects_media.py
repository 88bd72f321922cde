"""Uploads: checked by content, re-encoded, limited in size and count, served safely."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from fabbooking.accounts.services import viewer_for
from fabbooking.errors import Refused
from fabbooking.projects import media, services
from fabbooking.projects.media import prepare
from fabbooking.projects.tables import MediaFile
from tests.projects_support import (  # noqa: F401
    ASCII_STL,
    DXF,
    SVG,
    SVG_WITH_ENTITIES,
    SVG_WITH_SCRIPT,
    binary_stl,
    jpeg_with_gps,
    media_dir,
    new_project,
    png,
    three_mf,
    upload,
)

pytestmark = pytest.mark.anyio


def refusal(data: bytes) -> str:
    with pytest.raises(Refused) as caught:
        prepare(data)
    return caught.value.code


def test_each_accepted_kind_is_recognised_by_its_content():
    assert prepare(binary_stl()).content_type == "model/stl"
    assert prepare(ASCII_STL).extension == "stl"
    assert prepare(three_mf()).content_type == "model/3mf"
    assert prepare(SVG).content_type == "image/svg+xml"
    assert prepare(DXF).content_type == "image/vnd.dxf"
    assert prepare(png()).kind == "image"


def test_malformed_and_disguised_files_are_refused():
    assert refusal(png()[:60]) == "bad_image"  # truncated PNG
    assert refusal(b"<html><script>alert(1)</script></html>") == "unknown_file_type"  # HTML named .jpg
    assert refusal(binary_stl()[:-7]) == "unknown_file_type"  # triangle count does not match
    assert refusal(b"PK\x03\x04 not really a zip") == "unknown_file_type"
    assert refusal(SVG_WITH_ENTITIES) == "unknown_file_type"  # entity expansion refused
    assert refusal(b"MZ\x90\x00" + b"\x00" * 100) == "unknown_file_type"


def test_a_3mf_that_unpacks_too_big_is_refused(monkeypatch):
    monkeypatch.setattr(media, "MAX_3MF_UNPACKED", 100_000)
    assert refusal(three_mf(extra_unpacked=200_000)) == "zip_too_big"


def test_an_image_with_too_many_pixels_is_refused_before_decoding(monkeypatch):
    monkeypatch.setattr(media, "MAX_IMAGE_PIXELS", 1000)
    assert refusal(png(64, 48)) == "image_too_large"


def test_images_are_reencoded_without_exif_and_turned_upright():
    prepared = prepare(jpeg_with_gps(60, 40))
    assert b"PhoneMaker" not in prepared.data and b"GPS" not in prepared.data
    with Image.open(io.BytesIO(prepared.data)) as image:
        assert image.getexif() == {} or 0x8825 not in image.getexif()
        assert image.size == (40, 60)  # EXIF orientation 6 applied
    with Image.open(io.BytesIO(prepared.thumbnail)) as thumb:
        assert thumb.format == "WEBP"


def test_big_images_are_capped_and_thumbnailed():
    prepared = prepare(png(3000, 1500))
    assert (prepared.width, prepared.height) == (media.MAX_EDGE, media.MAX_EDGE // 2)
    with Image.open(io.BytesIO(prepared.thumbnail)) as thumb:
        assert max(thumb.size) == media.THUMB_EDGE


async def test_png_named_stl_is_kept_as_an_image_with_a_true_name(client, world):
    await new_project(client, world)
    response = await upload(client, world, "lampe-en-bois", "piece.stl", png())
    assert response.status_code == 201
    assert response.json()["kind"] == "image" and response.json()["name"] == "piece.jpg"


async def test_svg_with_script_is_kept_but_only_ever_downloaded(client, world):
    await new_project(client, world)
    response = await upload(client, world, "lampe-en-bois", "dessin.svg", SVG_WITH_SCRIPT)
    assert response.status_code == 201, response.text
    served = await client.get(response.json()["url"])
    assert served.status_code == 200
    assert served.headers["content-disposition"].startswith("attachment")
    assert served.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert served.headers["x-content-type-options"] == "nosniff"


async def test_media_are_served_with_safe_headers(client, world):
    await new_project(client, world)
    photo = (await upload(client, world, "lampe-en-bois", "photo.jpg", jpeg_with_gps())).json()
    model = (await upload(client, world, "lampe-en-bois", "cube.stl", binary_stl())).json()
    image = await client.get(photo["url"])
    assert image.headers["content-disposition"].startswith("inline")
    assert image.headers["content-type"] == "image/jpeg"
    assert image.headers["cache-control"].startswith("public")
    assert b"GPS" not in image.content and b"PhoneMaker" not in image.content
    download = await client.get(model["url"])
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.headers["content-type"] == "model/stl"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in download.headers["content-security-policy"]
    await client.patch("/api/v1/projects/lampe-en-bois", json={"visibility": "members"}, headers=world.auth("maker"))
    private = await client.get(model["url"], headers=world.auth("newbie"))
    assert private.headers["cache-control"].startswith("private")


async def test_too_big_files_are_refused_with_a_clear_message(client, world, monkeypatch, media_dir):
    await new_project(client, world)
    monkeypatch.setattr(media, "MAX_FILE_BYTES", 1000)
    response = await upload(client, world, "lampe-en-bois", "cube.stl", binary_stl(40))
    assert response.status_code == 413
    assert response.json()["code"] == "file_too_big" and "Mo" in response.json()["detail"]
    assert not [p for p in media_dir.rglob("*") if p.is_file()]


async def test_an_upload_over_the_request_limit_gets_a_413_that_says_what_to_do(client, world):
    await new_project(client, world)
    # the real limit, passed by one byte more than the route accepts
    data = b"\0" * (media.MAX_REQUEST_BYTES + 1)
    response = await upload(client, world, "lampe-en-bois", "big.stl", data)
    assert response.status_code == 413
    assert response.json()["code"] == "upload_too_big"
    assert "plusieurs fois" in response.json()["detail"]


async def test_too_many_files_in_a_step_or_project_are_refused(client, world, monkeypatch):
    await new_project(client, world)
    step = (await client.post("/api/v1/projects/lampe-en-bois/steps", headers=world.auth("maker"),
                              json={"happened_on": "2026-03-14"})).json()
    monkeypatch.setattr(media, "MAX_FILES_PER_STEP", 2)
    monkeypatch.setattr(media, "MAX_FILES_PER_PROJECT", 3)
    for _ in range(2):
        assert (await upload(client, world, "lampe-en-bois", "s.stl", binary_stl(), step_id=step["id"])).status_code == 201
    third = await upload(client, world, "lampe-en-bois", "s.stl", binary_stl(), step_id=step["id"])
    assert third.status_code == 422 and third.json()["code"] == "too_many_files_in_step"
    assert (await upload(client, world, "lampe-en-bois", "p.stl", binary_stl())).status_code == 201
    fourth = await upload(client, world, "lampe-en-bois", "p.stl", binary_stl())
    assert fourth.status_code == 422 and fourth.json()["code"] == "too_many_files"


async def test_a_failed_database_write_leaves_no_file_behind(client, world, monkeypatch, media_dir):
    await new_project(client, world)

    def broken_insert(*_args, **_kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(MediaFile, "insert", broken_insert)
    viewer = await viewer_for(world.ids["maker"])
    with pytest.raises(RuntimeError):
        await services.add_media(viewer, "lampe-en-bois", "a.png", png())
    assert not [p for p in media_dir.rglob("*") if p.is_file()]


def test_garbage_behind_any_signature_is_refused_never_a_crash():
    import random

    generator = random.Random(5)
    signatures = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"RIFF\0\0\0\0WEBP", b"PK\x03\x04",
                  b"solid ", b"<svg ", b"<?xml ", b"0\nSECTION\n", b""]
    for signature in signatures:
        for length in (0, 1, 50, 84, 500, 5000):
            data = signature + generator.randbytes(length)
            try:
                prepare(data)
            except Refused:
                pass
    assert refusal(png()[:33] + b"\0" * 40) == "bad_image"


async def test_an_unwritable_media_directory_is_a_clear_503(client, world, monkeypatch, tmp_path):
    await new_project(client, world)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the media folder should be")
    monkeypatch.setenv("FABBOOKING_MEDIA_DIR", str(blocker))
    response = await upload(client, world, "lampe-en-bois", "p.png", png())
    assert response.status_code == 503 and response.json()["code"] == "media_storage_failed"
    assert (await client.get("/api/v1/projects/lampe-en-bois")).json()["files"] == []


class CountedBody:
    """A large multipart body sent in 1 MB pieces, counting how many the server asked for."""

    PIECES = 60

    def __init__(self) -> None:
        self.sent = 0

    async def __aiter__(self):
        yield b'--edge\r\nContent-Disposition: form-data; name="file"; filename="big.stl"\r\n\r\n'
        for _ in range(self.PIECES):
            self.sent += 1
            yield b"\0" * media.MB
        yield b"\r\n--edge--\r\n"


async def send_big_upload(client, address: str, headers: dict | None = None):
    body = CountedBody()
    response = await client.post(address, content=body.__aiter__(),
                                 headers={"content-type": "multipart/form-data; boundary=edge", **(headers or {})})
    return response, body.sent


async def test_an_upload_by_someone_not_allowed_is_refused_before_its_body_is_read(client, world):
    await new_project(client, world)
    anonymous, read = await send_big_upload(client, "/api/v1/projects/lampe-en-bois/media")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"
    assert read == 0
    stranger, read = await send_big_upload(client, "/api/v1/projects/lampe-en-bois/media", world.auth("newbie"))
    assert stranger.status_code == 403 and read == 0
    for page in ("/projects/lampe-en-bois/steps/new", "/projects/lampe-en-bois/cover"):
        refused, read = await send_big_upload(client, page)
        assert refused.status_code == 303 and refused.headers["location"].startswith("/login?next=")
        assert read == 0
    assert await MediaFile.count() == 0
    # the project's own people still upload as before
    allowed, read = await send_big_upload(client, "/api/v1/projects/lampe-en-bois/media", world.auth("maker"))
    assert read == CountedBody.PIECES and allowed.status_code == 413  # 60 MB of zeros: not a file we take


async def test_a_photo_over_the_pixel_budget_says_how_to_make_it_fit(client, world, monkeypatch):
    await new_project(client, world)
    monkeypatch.setattr(media, "MAX_IMAGE_PIXELS", 1000)
    response = await upload(client, world, "lampe-en-bois", "photo.png", png(64, 48))
    assert response.status_code == 422 and response.json()["code"] == "image_too_large"
    assert "Réduisez-la" in response.json()["detail"] and "7 000 × 5 000" in response.json()["detail"]


def test_a_large_photo_is_shrunk_as_it_is_decoded_and_still_turned_upright():
    prepared = prepare(jpeg_with_gps(4800, 3200))  # decoded at half size, then turned
    assert (prepared.width, prepared.height) == (1600, 2400)
    with Image.open(io.BytesIO(prepared.data)) as image:
        assert image.size == (1600, 2400) and b"PhoneMaker" not in prepared.data
