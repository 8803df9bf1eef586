"""Photo checks: real decoding of JPEG and PNG only, pixel bound, re-encoding that keeps the pixels and nothing else.

Bounds: an upload is at most PHOTO_MAX_BYTES, decodes to at most MAX_PIXELS (about 160 MB of RGBA in memory while
it is re-encoded) and is stored at most MAX_SIDE pixels on its longest side. Every metadata block (EXIF with GPS,
XMP, ICC profile, JPEG comments, PNG text chunks) is dropped.
"""
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

# Largest decoded image accepted (pixels): ~40 Mpx covers every phone camera; more is a bomb.
MAX_PIXELS = 40_000_000
# Longest side kept after re-encoding: enough for an officer, light for the database.
MAX_SIDE = 2560
# What phones send. Only these parsers ever see an upload: Pillow would otherwise try every format it knows.
ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}
PARSED_FORMATS = tuple(ACCEPTED_FORMATS)


class PhotoRejected(ValueError):
    pass


@dataclass(frozen=True)
class CleanPhoto:
    content: bytes
    content_type: str
    width: int
    height: int


def clean_photo(raw: bytes, max_bytes: int) -> CleanPhoto:
    """Decode, check and re-encode one upload. The output carries no metadata at all."""
    if len(raw) > max_bytes:
        raise PhotoRejected(f"Photo trop volumineuse (maximum {max_bytes // (1024 * 1024)} Mo).")
    if not raw:
        raise PhotoRejected("Fichier photo vide.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw), formats=PARSED_FORMATS) as probe:
                kind = probe.format
                if probe.width * probe.height > MAX_PIXELS:
                    raise PhotoRejected("Image trop grande (dimensions).")
                probe.verify()
            with Image.open(io.BytesIO(raw), formats=PARSED_FORMATS) as image:
                image.load()
                # Apply the EXIF orientation before the metadata is dropped.
                image = ImageOps.exif_transpose(image)
                image.thumbnail((MAX_SIDE, MAX_SIDE))
                pixels = _pixels_only(image, kind)
                out = io.BytesIO()
                if kind == "JPEG":
                    pixels.save(out, "JPEG", quality=85, optimize=True)
                else:
                    pixels.save(out, "PNG", optimize=True)
                return CleanPhoto(out.getvalue(), ACCEPTED_FORMATS[kind], pixels.width, pixels.height)
    except PhotoRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRejected("Image trop grande (dimensions).")
    except UnidentifiedImageError:
        raise PhotoRejected("Fichier illisible : seules les photos JPEG et PNG sont acceptées.")
    except (OSError, SyntaxError, ValueError):
        raise PhotoRejected("Fichier illisible : ce n'est pas une image JPEG ou PNG valide.")


def _pixels_only(image: Image.Image, kind: str) -> Image.Image:
    """A new image holding the pixels and nothing else.

    Pillow carries `image.info` (JPEG comment, XMP, ICC profile, EXIF, PNG text chunks) through `convert()` and
    writes parts of it back on save; an image rebuilt from raw pixels has no metadata to write.
    """
    if kind == "JPEG" or image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGB" if kind == "JPEG" or "transparency" not in image.info else "RGBA")
    return Image.frombytes(image.mode, image.size, image.tobytes())
