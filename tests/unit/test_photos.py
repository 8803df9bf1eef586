"""Photos keep their pixels and nothing else: every metadata block a phone or an editor can write is dropped."""
import io

import pytest
from PIL import Image, PngImagePlugin

from service.reports.photos import PhotoRejected, clean_photo

SECRETS = (b"Jean Dupont 06 12 34 56 78", b"SECRET-MAKE", b"SECRET-ICC", b"SECRET-XMP", b"SECRET-ITXT")
MAX_BYTES = 8 * 1024 * 1024


def _exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "SECRET-MAKE"  # Make
    exif[0x0112] = 1  # Orientation
    return exif


def _icc() -> bytes:
    return b"SECRET-ICC" * 20


def _jpeg_with_everything() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(
        out, "JPEG", comment=SECRETS[0], exif=_exif(), icc_profile=_icc(),
        xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>SECRET-XMP</x:xmpmeta>")
    return out.getvalue()


def _png_with_everything(mode: str = "RGB") -> bytes:
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", SECRETS[0].decode())
    text.add_itxt("Comment", "SECRET-ITXT")
    out = io.BytesIO()
    Image.new(mode, (64, 48)).save(out, "PNG", pnginfo=text, icc_profile=_icc(), exif=_exif())
    return out.getvalue()


@pytest.mark.parametrize("raw", [_jpeg_with_everything(), _png_with_everything(), _png_with_everything("P"),
                                 _png_with_everything("RGBA")], ids=["jpeg", "png", "png-palette", "png-alpha"])
def test_no_metadata_survives(raw):
    assert any(secret in raw for secret in SECRETS)  # the upload does carry them
    photo = clean_photo(raw, MAX_BYTES)
    assert not [secret for secret in SECRETS if secret in photo.content]
    with Image.open(io.BytesIO(photo.content)) as stored:
        assert not set(stored.info) & {"comment", "exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "Author",
                                       "Comment"}
        assert stored.size == (64, 48)


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "WEBP"])
def test_only_the_formats_phones_send_are_parsed(fmt):
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, fmt)
    with pytest.raises(PhotoRejected, match="JPEG et PNG"):
        clean_photo(out.getvalue(), MAX_BYTES)


def test_transparency_is_kept():
    out = io.BytesIO()
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(out, "PNG")
    with Image.open(io.BytesIO(clean_photo(out.getvalue(), MAX_BYTES).content)) as stored:
        assert stored.mode == "RGBA" and stored.getpixel((0, 0))[3] == 0
