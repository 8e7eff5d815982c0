"""A cheap check of every image/label pair before training: files exist, headers read, image and label sizes
match, and files end where their format says (a truncated PNG or JPEG) — without decoding any pixels, in
parallel, reporting every problem at once instead of failing one epoch in."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from alignseg.data.errors import DataError

__all__ = ["check_samples"]

_SHOWN = 20


def _ends_whole(path: Path) -> bool:
    """Whether a PNG ends with its IEND chunk and a JPEG holds its end-of-image marker near the end."""
    suffix = path.suffix.lower()
    if suffix not in (".png", ".jpg", ".jpeg"):
        return True
    with path.open("rb") as stream:
        stream.seek(0, 2)
        size = stream.tell()
        stream.seek(max(0, size - 4096))
        tail = stream.read()
    return tail.endswith(b"IEND\xaeB`\x82") if suffix == ".png" else b"\xff\xd9" in tail


def _size(path: Path, what: str) -> tuple[int, int]:
    """``(width, height)`` of an image or ``.mat`` label from its header; DataError naming the file."""
    if not path.is_file():
        raise DataError(f"{what} {path} does not exist")
    if path.suffix.lower() == ".mat":
        from scipy.io import whosmat

        try:
            shapes = {name: shape for name, shape, _ in whosmat(path)}
        except Exception as error:  # SciPy raises several types on corrupt files
            raise DataError(f"{what} {path} is not a readable MATLAB file ({error})") from None
        if len(shapes.get("S", ())) != 2:
            raise DataError(f"{what} {path} holds no 2-D label matrix 'S'")
        height, width = shapes["S"]
        return width, height
    try:
        with Image.open(path) as image:
            size = image.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise DataError(f"{what} {path} is not a readable image ({error})") from None
    if not _ends_whole(path):
        raise DataError(f"{what} {path} is truncated (its end marker is missing)")
    return size


def _check_pair(pair: tuple[Path, Path]) -> str | None:
    image, label = pair
    try:
        image_size, label_size = _size(image, "image"), _size(label, "label")
    except DataError as error:
        return str(error)
    if image_size != label_size:
        return (f"image {image} is {image_size[0]}x{image_size[1]} but its label {label} is "
                f"{label_size[0]}x{label_size[1]} (WxH)")
    return None


def check_samples(samples: list[tuple[Path, Path]], what: str, *, threads: int = 8) -> None:
    """Check every ``(image, label)`` pair of ``samples`` (``what`` names the split in the message) and raise
    one DataError listing every problem found."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        problems = [p for p in pool.map(_check_pair, samples) if p is not None]
    if problems:
        shown = "\n  ".join(problems[:_SHOWN])
        more = f"\n  ... and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
        raise DataError(f"{len(problems)} of the {len(samples)} {what} samples cannot be used; fix or remove "
                        f"them:\n  {shown}{more}")
