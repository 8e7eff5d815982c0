"""What ``alignseg data`` does to a dataset: check every sample, count class pixels, write train-id PNGs.

Every pass opens each sample once, in loader processes, and collects what goes wrong per file instead
of stopping at the first problem; the caller prints the collected ``Fault`` rows and decides the exit code.
"""

from __future__ import annotations

import io
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from alignseg.data.datasets.base import SegmentationDataset, collect_unpaired
from alignseg.data.errors import DataError
from alignseg.data.io import read_image
from alignseg.fileio import atomic_write
from alignseg.progress import Progress

ENET_C = 1.02
"""The constant of ENet's class weights ``1 / ln(c + p)`` (Paszke et al. 2016)."""


@dataclass
class Fault:
    """One problem with one file (or a whole split when the dataset could not be opened)."""

    split: str
    kind: str
    file: str
    detail: str


@dataclass
class SampleResult:
    """What one pass learned about one sample: its image size, class pixel counts, and its faults."""

    size: tuple[int, int] | None = None  # (width, height)
    counts: np.ndarray | None = None  # pixels per train id over the labelled pixels
    written: bool = False
    faults: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, file, detail)


@dataclass
class SplitReport:
    """A pass over one split: its dataset (None when it could not be opened), results per sample, faults."""

    name: str
    dataset: SegmentationDataset | None
    results: list[SampleResult] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)

    @property
    def unpaired_images(self) -> int:
        """Images found without a label (counted among the split's images, though no sample holds them)."""
        return sum(fault.kind == "image without label" for fault in self.faults)


def open_split(name: str, build: Callable[[], SegmentationDataset]) -> SplitReport:
    """Build a split's dataset, recording unpaired files and a failure to open it as faults."""
    report = SplitReport(name, None)
    try:
        with collect_unpaired() as unpaired:
            report.dataset = build()
    except (DataError, ValueError, FileNotFoundError) as error:
        report.faults.append(Fault(name, "cannot open split", "", str(error)))
    for kind, path, detail in unpaired:
        report.faults.append(Fault(name, kind, str(path), detail))
    return report


def _detail(error: BaseException, path: Path | str) -> str:
    """The message of ``error`` with the file shown by its name only (its full path is in the file column)."""
    return str(error).replace(str(path), Path(path).name)


def _attempt(read: Callable[[Path], np.ndarray], path: Path, kind: str, result: SampleResult) -> np.ndarray | None:
    try:
        return read(path)
    except (DataError, OSError, ValueError) as error:
        result.faults.append((kind, str(path), _detail(error, path)))
        return None


def check_sample(dataset: SegmentationDataset, index: int) -> SampleResult:
    """Decode the image and the label fully, compare their sizes and map the label: every fault is kept."""
    result = SampleResult()
    if type(dataset).load is not SegmentationDataset.load or not dataset.samples:
        try:  # a loader with its own reading (generated or merged data): one fault per sample at most
            image, label = dataset.load(index)
            result.size = (image.shape[1], image.shape[0])
            result.counts = _class_counts(label, dataset.num_classes)
        except (DataError, OSError, ValueError) as error:
            result.faults.append(("unreadable sample", dataset.sample_name(index), str(error)))
        return result
    image_path, label_path = dataset.samples[index]
    image = _attempt(read_image, image_path, "unreadable image", result)
    raw = _attempt(dataset.read_raw_label, label_path, "unreadable label", result)
    if image is not None:
        result.size = (image.shape[1], image.shape[0])
    if image is not None and raw is not None and image.shape[:2] != raw.shape[:2]:
        result.faults.append(("size mismatch", str(image_path),
                              f"image {image.shape[1]}x{image.shape[0]}, label {label_path.name} "
                              f"{raw.shape[1]}x{raw.shape[0]} (WxH)"))
    if raw is not None:
        try:
            result.counts = _class_counts(dataset.prepare_label(raw, label_path), dataset.num_classes)
        except DataError as error:
            result.faults.append(("label values outside the table", str(label_path), _detail(error, label_path)))
    return result


def count_sample(dataset: SegmentationDataset, index: int) -> SampleResult:
    """Read and map one label only (no image): its pixels per train id."""
    result = SampleResult()
    try:
        result.counts = _class_counts(dataset.read_label(index), dataset.num_classes)
    except (DataError, OSError, ValueError) as error:
        result.faults.append(("unreadable label", _label_name(dataset, index), str(error)))
    return result


def prepare_sample(dataset: SegmentationDataset, index: int, overwrite: bool = False) -> SampleResult:
    """Write sample ``index``'s train ids as an 8-bit PNG beside its raw label (atomically; kept if present)."""
    result = SampleResult()
    label_path = dataset.samples[index][1]
    target = dataset.prepared_label_path(label_path)
    if target.is_file() and not overwrite:
        return result
    try:
        label = dataset.read_label(index)
        encoded = io.BytesIO()
        Image.fromarray(label, mode="L").save(encoded, format="PNG")
        atomic_write(target, lambda stream: stream.write(encoded.getvalue()))
        result.written = True
    except (DataError, OSError, ValueError) as error:
        result.faults.append(("cannot prepare label", str(label_path), _detail(error, label_path)))
    return result


def _class_counts(label: np.ndarray, num_classes: int) -> np.ndarray:
    return np.bincount(label.ravel(), minlength=256)[:num_classes].astype(np.int64)


def _label_name(dataset: SegmentationDataset, index: int) -> str:
    return str(dataset.samples[index][1]) if dataset.samples else dataset.sample_name(index)


class _Task(Dataset):
    """Runs ``task(dataset, index)`` as a loader item, so that DataLoader workers do the work in parallel."""

    def __init__(self, dataset: SegmentationDataset, task: Callable[[SegmentationDataset, int], SampleResult]):
        self.dataset, self.task = dataset, task

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> SampleResult:
        return self.task(self.dataset, index)


def _unchanged(item: SampleResult) -> SampleResult:
    return item


def run_pass(report: SplitReport, task: Callable[[SegmentationDataset, int], SampleResult], *, workers: int,
             what: str, progress: bool = True) -> SplitReport:
    """Run ``task`` on every sample of the split in ``workers`` processes (0: this one), with a progress bar."""
    if report.dataset is None:
        return report
    loader = DataLoader(_Task(report.dataset, task), batch_size=None, num_workers=workers, collate_fn=_unchanged)
    bar = Progress(len(report.dataset), f"{what} {report.name}") if progress else None
    for result in loader:
        report.results.append(result)
        report.faults += [Fault(report.name, kind, file, detail) for kind, file, detail in result.faults]
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    return report


def check(report: SplitReport, *, workers: int, progress: bool = True) -> SplitReport:
    return run_pass(report, check_sample, workers=workers, what="checking", progress=progress)


def count(report: SplitReport, *, workers: int, progress: bool = True) -> SplitReport:
    return run_pass(report, count_sample, workers=workers, what="counting", progress=progress)


def prepare(report: SplitReport, *, workers: int, overwrite: bool = False, progress: bool = True) -> SplitReport:
    dataset = report.dataset
    if dataset is not None and (dataset.label_map is None or dataset.prepared_label_type is None
                                or not dataset.samples):
        raise DataError(f"{type(dataset).__name__} ({report.name}): these labels are read as they are "
                        "(no raw -> train id table), there is nothing to prepare")
    return run_pass(report, partial(prepare_sample, overwrite=overwrite), workers=workers, what="preparing",
                    progress=progress)


# --- summaries ----------------------------------------------------------------------------------------------


def size_summary(sizes: Sequence[tuple[int, int]], most: int = 4) -> str:
    """``480x360 (367)`` for one size; the most common sizes, their number and the range for several."""
    if not sizes:
        return "-"
    common = Counter(sizes).most_common()
    text = ", ".join(f"{w}x{h} ({n})" for (w, h), n in common[:most])
    if len(common) > most:
        widths, heights = [w for w, _ in sizes], [h for _, h in sizes]
        text += (f", {len(common) - most} other sizes; width {min(widths)}..{max(widths)}, "
                 f"height {min(heights)}..{max(heights)}")
    return text


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table with left-aligned columns."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def check_summary(reports: Sequence[SplitReport]) -> str:
    """The counts per split, the image sizes, and every fault, as printed by ``alignseg data check``."""
    rows = []
    for r in reports:
        ok = sum(1 for s in r.results if not s.faults)
        images = len(r.results) + r.unpaired_images
        rows.append((r.name, images, len(r.results), ok,
                     size_summary([s.size for s in r.results if s.size is not None])))
    lines = [format_table(("split", "images", "with label", "without faults", "image sizes (WxH)"), rows)]
    faults = [f for r in reports for f in r.faults]
    if faults:
        lines += ["", f"{len(faults)} fault(s):",
                  format_table(("split", "fault", "file", "detail"),
                               [(f.split, f.kind, f.file, f.detail) for f in faults])]
    else:
        lines += ["", "no faults"]
    return "\n".join(lines)


# --- class statistics -------------------------------------------------------------------------------------


def class_statistics(counts: Sequence[np.ndarray], class_names: Sequence[str]) -> dict:
    """Class frequencies and weights from the per-image pixel counts of one split.

    - ``frequencies``: f_c = pixels of class c / labelled pixels (255 excluded), so they sum to 1;
    - ``inverse``: w_c = 1 / (K f_c), K = number of classes present: 1 for every class when all are equally
      frequent, and the mean weight per labelled pixel (sum of f_c w_c) is 1;
    - ``median_frequency`` (Eigen & Fergus 2015, SegNet's CamVid weights): w_c = median(g) / g_c with
      g_c = pixels of class c / labelled pixels of the images that contain class c, median over present classes;
    - ``log`` (ENet, Paszke et al. 2016): w_c = 1 / ln(1.02 + f_c), between 1.42 and 50.5.

    A class absent from the split gets weight 0 in every scheme (and a warning).
    """
    num_classes = len(class_names)
    per_image = np.stack(counts) if counts else np.zeros((0, num_classes), np.int64)
    totals = per_image.sum(axis=0).astype(np.float64)
    labelled = totals.sum()
    if labelled == 0:
        raise DataError("no labelled pixels: every label holds only the ignore value 255")
    frequencies = totals / labelled
    present = totals > 0
    image_totals = per_image.sum(axis=1, keepdims=True).astype(np.float64)
    containing = (image_totals * (per_image > 0)).sum(axis=0)
    image_frequencies = np.divide(totals, containing, out=np.zeros(num_classes), where=present)
    weights = {name: np.zeros(num_classes) for name in ("inverse", "median_frequency", "log")}
    weights["inverse"][present] = 1.0 / (present.sum() * frequencies[present])
    weights["median_frequency"][present] = np.median(image_frequencies[present]) / image_frequencies[present]
    weights["log"][present] = 1.0 / np.log(ENET_C + frequencies[present])
    absent = [class_names[c] for c in np.flatnonzero(~present)]
    if absent:
        warnings.warn(f"classes without any labelled pixel get weight 0: {', '.join(absent)}", stacklevel=2)
    return {
        "class_names": list(class_names),
        "frequencies": frequencies.tolist(),
        "weights": {name: values.tolist() for name, values in weights.items()},
    }


def stats_table(stats: dict) -> str:
    """The per-class frequencies and weights as a printed table."""
    w = stats["weights"]
    rows = [(c, name, f"{100 * f:.3f}", f"{w['inverse'][c]:.4f}", f"{w['median_frequency'][c]:.4f}",
             f"{w['log'][c]:.4f}") for c, (name, f) in enumerate(zip(stats["class_names"], stats["frequencies"],
                                                                     strict=True))]
    return format_table(("id", "class", "frequency %", "inverse", "median freq.", "log (ENet)"), rows)


# --- choosing samples -------------------------------------------------------------------------------------


def pick_samples(dataset: SegmentationDataset, *, num: int = 4, seed: int = 0,
                 files: Sequence[str] | None = None) -> list[int]:
    """Indices of ``num`` samples drawn without replacement with ``seed``, or of the given ``files``
    (an image or label path, file name or stem); a file that is not in the dataset is an error."""
    if not files:
        rng = np.random.default_rng(seed)
        return sorted(rng.choice(len(dataset), size=min(num, len(dataset)), replace=False).tolist())
    keys: dict[str, int] = {}
    for index in range(len(dataset)):
        paths = [Path(p) for p in dataset.samples[index]] if dataset.samples else [Path(dataset.sample_name(index))]
        for path in paths:
            for key in (str(path), path.name, path.stem, str(path.resolve())):
                keys.setdefault(key, index)
    chosen, unknown = [], []
    for name in files:
        index = keys.get(name, keys.get(str(Path(name).resolve())))
        (unknown.append(name) if index is None else chosen.append(index))
    if unknown:
        raise DataError(f"not in the dataset: {', '.join(unknown)} (give an image or label path, file name or stem)")
    return chosen


__all__ = [
    "ENET_C",
    "Fault",
    "SampleResult",
    "SplitReport",
    "check",
    "check_sample",
    "check_summary",
    "class_statistics",
    "count",
    "count_sample",
    "open_split",
    "pick_samples",
    "prepare",
    "prepare_sample",
    "size_summary",
    "stats_table",
]
