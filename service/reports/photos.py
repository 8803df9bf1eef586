"""Photo checks: real decoding with Pillow, decompression-bomb guard, re-encoding without EXIF/GPS."""
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

# Largest decoded image accepted (pixels): ~40 Mpx covers every phone camera; more is a bomb.
MAX_PIXELS = 40_000_000
# Longest side kept after re-encoding: enough for an officer, light for the database.
MAX_SIDE = 2560
ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}


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
            with Image.open(io.BytesIO(raw)) as probe:
                kind = probe.format
                if kind not in ACCEPTED_FORMATS:
                    raise PhotoRejected("Seules les photos JPEG et PNG sont acceptées.")
                if probe.width * probe.height > MAX_PIXELS:
                    raise PhotoRejected("Image trop grande (dimensions).")
                probe.verify()
            with Image.open(io.BytesIO(raw)) as image:
                image.load()
                # Apply the EXIF orientation before the metadata is dropped.
                image = ImageOps.exif_transpose(image)
                image.thumbnail((MAX_SIDE, MAX_SIDE))
                out = io.BytesIO()
                if kind == "JPEG":
                    image.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
                else:
                    if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
                        image = image.convert("RGBA")
                    image.save(out, "PNG", optimize=True)
                return CleanPhoto(out.getvalue(), ACCEPTED_FORMATS[kind], image.width, image.height)
    except PhotoRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRejected("Image trop grande (dimensions).")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise PhotoRejected("Fichier illisible : ce n'est pas une image JPEG ou PNG valide.")
