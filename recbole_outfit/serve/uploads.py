"""Uploaded photos: checked against the limits before the model sees them, kept in memory only.

Each upload is read into memory (Starlette spools a large part to a temporary file while the form is parsed;
it is closed, and so deleted, as soon as its bytes are read), then checked: its size, its declared type and
the type its bytes really have, its pixel count (from the header, before decoding) and the number of photos.
A file that fails is an :class:`UploadError` (400) saying which file and what was wrong.
"""

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from recbole_outfit.errors import ConfigError

TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}  # content type -> PIL format


class UploadError(ConfigError):
    """An uploaded file the page refuses (400)."""


@dataclass
class UploadLimits:
    """max_bytes: per file; max_pixels: width x height per image; max_files: photos per request."""

    max_bytes: int = 8 * 2**20
    max_pixels: int = 25_000_000
    max_files: int = 8

    def request_bytes(self):
        """The largest request body that can hold ``max_files`` files of ``max_bytes`` (plus form overhead)."""
        return self.max_files * self.max_bytes + 256 * 1024


async def read_photos(files, limits, field="photos"):
    """``UploadFile`` list -> their bytes, every file checked (see the module docstring)."""
    files = [f for f in files or [] if f is not None and (f.filename or f.size)]
    try:
        if len(files) > limits.max_files:
            raise UploadError(f"{len(files)} photos uploaded, at most {limits.max_files} per request", where=field,
                              fix=f"send at most {limits.max_files} photos")
        photos = []
        for number, upload in enumerate(files, 1):
            name = f"{field} {number} ({upload.filename or 'no name'})"
            data = await upload.read(limits.max_bytes + 1)
            await upload.close()
            photos.append(check_photo(data, upload.content_type, name, limits))
        return photos
    finally:
        for upload in files:
            await upload.close()


def check_photo(data, content_type, name, limits):
    """One upload's bytes -> the same bytes, or :class:`UploadError`."""
    if len(data) > limits.max_bytes:
        raise UploadError(f"{name} is larger than {limits.max_bytes / 2**20:g} MiB", where=name,
                          fix="send a smaller file (a photo of a garment needs far less)")
    if not data:
        raise UploadError(f"{name} is empty", where=name, fix="choose an image file")
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared not in TYPES:
        raise UploadError(f"{name} has type {declared or 'none'!r}", where=name,
                          fix=f"send one of {', '.join(TYPES)}")
    try:
        with Image.open(io.BytesIO(data)) as image:
            found, (width, height) = image.format, image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise UploadError(f"{name} is not a readable image ({type(error).__name__})", where=name,
                          fix=f"send a {' / '.join(sorted(set(TYPES.values())))} image") from error
    if found not in TYPES.values():
        raise UploadError(f"{name} is a {found} image", where=name, fix=f"send one of {', '.join(TYPES)}")
    if width * height > limits.max_pixels:
        raise UploadError(f"{name} has {width} x {height} = {width * height:,} pixels, more than "
                          f"{limits.max_pixels:,}", where=name, fix="resize it before uploading")
    return data
