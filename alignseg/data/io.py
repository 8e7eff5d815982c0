"""Reading images (RGB uint8) and label maps (class indices) with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from alignseg.data.errors import DataError

_LABEL_MODES = {"L", "P", "I", "I;16", "I;16L", "I;16B", "I;16N"}
"""Single-channel PIL modes; for palette ('P') PNGs the stored values are class indices, not colours."""


def _open(path: Path, what: str) -> Image.Image:
    """Open and fully decode a file, turning every decoder failure into one DataError naming it."""
    if not path.is_file():
        raise DataError(f"{what} file {path} does not exist")
    try:
        with Image.open(path) as image:
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise DataError(f"cannot read {what} file {path}: {error} (is it a valid, complete image?)") from error
    return image


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as an ``H×W×3`` RGB ``uint8`` array (grey, palette and RGBA images are converted)."""
    image = _open(Path(path), "image")
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.array(image)


def read_label(path: str | Path) -> np.ndarray:
    """Read a single-channel label map as an ``H×W`` integer array of the stored values (uint8 when 8-bit).

    Images (PNG, ...) are decoded with Pillow; ``.mat`` files (COCO-Stuff-10K's release) with SciPy.
    """
    path = Path(path)
    if path.suffix.lower() == ".mat":
        return read_mat_label(path)
    label = _open(path, "label")
    if label.mode not in _LABEL_MODES:
        raise DataError(
            f"label file {path} is a {label.mode} image; expected a single-channel map of class indices "
            "(8-bit grey or palette PNG) - colour-coded labels must be converted to indices first"
        )
    return np.array(label)


def read_mat_label(path: str | Path, key: str = "S") -> np.ndarray:
    """Read the ``H×W`` label matrix stored under ``key`` in a MATLAB v5 file (COCO-Stuff-10K keeps it in ``S``)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"label file {path} does not exist")
    from scipy.io import loadmat  # the train extra's dependency; only .mat labels need it

    try:
        contents = loadmat(path, variable_names=[key])
    except Exception as error:  # SciPy raises several types (IndexError, ValueError, ...) on corrupt files
        raise DataError(f"cannot read label file {path}: {error} (expected a MATLAB v5 .mat file)") from error
    if key not in contents:
        raise DataError(f"label file {path} has no variable {key!r}; expected the label matrix there")
    label = np.asarray(contents[key])
    if label.ndim != 2 or label.dtype.kind not in "iu":
        raise DataError(f"label file {path}: {key!r} is a {label.dtype} array of shape {label.shape}; "
                        "expected a 2-D integer matrix of class ids")
    return label
