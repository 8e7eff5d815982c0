"""Typed training/evaluation configuration: one YAML file that reads on its own, plus dotted overrides.

A config file holds up to seven sections (``model``, ``data``, ``loss``, ``optim``, ``schedule``, ``train``,
``eval``); every key it leaves out takes the default written in the dataclasses below, and nothing is
inherited from other files. On the command line, ``section.key=value`` overrides a value; the value is
read as YAML (``train.max_epochs=3``, ``eval.scales=[0.5,1.0,2.0]``, ``model.pretrained=null``);
``section.key.name=value`` sets one entry of a mapping (``loss.aux_weights.teacher=1.0``).

Unknown sections or keys and values of the wrong type raise one ``ConfigError`` naming the key and where
it came from (the file, or the command line).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from ..evaluation.inference import InferenceSettings

__all__ = [
    "Config",
    "ConfigError",
    "DataConfig",
    "EvalConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "ScheduleConfig",
    "TrainConfig",
    "config_from_dict",
    "find_config",
    "list_configs",
    "load_config",
    "parse_overrides",
    "save_config",
]


class ConfigError(ValueError):
    """A config key is unknown, has a value of the wrong type, or contradicts another key."""


@dataclass
class ModelConfig:
    """Which zoo model to train (``alignseg models`` lists them) and the local weight files to start from."""

    name: str = "sfnet_lite_r18"
    num_classes: int | None = None  # None: the dataset's number of classes
    pretrained: str | None = None  # whole-model checkpoint (alignseg or released format)
    backbone_pretrained: str | None = None  # ImageNet trunk, e.g. resnet18-deep-inplane128.pth
    aux_heads: bool | None = None  # deep-supervision heads; None: as in the released recipe of the model
    decoder_options: dict[str, Any] = field(default_factory=dict)  # override the zoo entry's decoder arguments


@dataclass
class DataConfig:
    """Dataset, augmentation (spec sfnet.md 4.2), class-uniform sampling (4.3) and loaders.

    The dataset is ``alignseg.data.build_dataset(dataset, **kwargs)`` with ``root`` and ``split`` added
    when the dataset takes them (``train_split`` for training, ``val_split`` for validation) and
    ``train_kwargs`` / ``val_kwargs`` added for one split only.
    """

    dataset: str = "shapes"
    root: str | None = None
    train_split: str = "train"
    val_split: str = "val"
    kwargs: dict[str, Any] = field(default_factory=dict)
    train_kwargs: dict[str, Any] = field(default_factory=dict)
    val_kwargs: dict[str, Any] = field(default_factory=dict)
    crop_size: int | list[int] = 512  # square side or [height, width]
    scale_range: list[float] = field(default_factory=lambda: [0.5, 2.0])
    scale_choices: list[float] | None = None  # draw the scale from this set instead (FaPN: 0.75, 1, ..., 2.0)
    hflip: float = 0.5  # probability of a horizontal flip
    color_jitter: float = 0.0  # s: brightness/contrast/saturation in [1-s, 1+s], hue in [-s, s]; 0 = off
    blur: bool = False  # Gaussian blur with sigma in blur_sigma on every sample
    blur_sigma: list[float] = field(default_factory=lambda: [0.15, 1.30])
    interpolation: Literal["bilinear", "bicubic"] = "bilinear"
    pad_value: Literal["zero", "mean"] = "zero"  # crops of scaled-down images: black (released) or the mean colour
    pad_position: Literal["center", "bottom_right"] = "center"  # padding around the image (released) or after it
    class_uniform_pct: float = 0.0  # 0 = plain seeded shuffling
    class_uniform_tile: int = 1024
    # coarse boost (SFNet-Lite Cityscapes scripts: [14, 15, 16, 3, 12, 17, 4]): these classes also draw their
    # class-uniform crops from the coarse images (train_kwargs: {coarse: true}); spec datasets.md 3
    coarse_boost_classes: list[int] = field(default_factory=list)
    cache_dir: str | None = None  # centroid cache; None = $ALIGNSEG_CACHE or ~/.cache/alignseg
    batch_size: int = 8  # per device (process)
    workers: int = 2  # loader processes per device


@dataclass
class LossConfig:
    """The criterion (``alignseg.losses.build_criterion``): pixel loss ``name`` with ``kwargs`` on the main
    logits and on every auxiliary logits, plus loss terms; weights and terms default to the zoo entry's.

    ``aux_weights``: per aux output name or family (``{dsn: 0.4, teacher: 1.0}``; on the command line
    ``loss.aux_weights.teacher=1.0``), or one number for every deep-supervision head (``dsn_*``), or a
    list with one per head. ``terms``: extra loss terms ``{name: {arguments}}`` over the entry's (``null``
    removes one; every pixel loss is also a term on the main logits, e.g. ``{dice: {}}``); ``term_weights``:
    the weight of each part of a term (``car_intra: 1.0``, ``dice: 1.0``). ``class_weights``: one weight
    per class for every pixel loss, or the path of a class-statistics JSON file (``alignseg data stats``)
    whose ``weights[class_weighting]`` list is used.
    """

    name: Literal["ce", "ohem", "hardest_fraction", "focal", "dice"] = "ce"
    kwargs: dict[str, Any] = field(default_factory=dict)
    aux_weights: float | list[float] | dict[str, float] | None = None  # None: the zoo entry's (dsn: 0.4)
    terms: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    term_weights: dict[str, float] = field(default_factory=dict)
    class_weights: list[float] | str | None = None
    class_weighting: Literal["inverse", "median_frequency", "log"] = "median_frequency"  # for a file


@dataclass
class OptimConfig:
    name: Literal["sgd", "adamw"] = "sgd"
    lr: float = 0.01
    momentum: float = 0.9  # SGD only
    nesterov: bool = False  # SGD only
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])  # AdamW only
    weight_decay: float = 1e-4
    no_decay_bn_bias: bool = False  # False: one param group, as released (BN weights and biases decayed too)
    # layer-wise lr decay (ConvNeXt recipes; mmseg LearningRateDecayOptimizerConstructor, see engine/optim.py):
    # a parameter of backbone layer i trains at lr * layer_decay ** (N + 1 - i), the decoder at lr. mmseg's
    # ConvNeXt UperNet recipes: layer_decay 0.9, layer_decay_type stage_wise, num_layers 6 (T) or 12 (S/B/L)
    layer_decay: float | None = None  # e.g. 0.9; None: off
    layer_decay_type: Literal["layer_wise", "stage_wise"] = "layer_wise"
    layer_decay_num_layers: int | None = None  # N (mmseg's num_layers); None: the backbone's own (6 T, 12 S/B/L)


@dataclass
class ScheduleConfig:
    """Poly decay of the learning rate, optionally after a linear warm-up.

    ``per: iteration`` (paper): ``lr = base·(1 − it/total)^power`` after every iteration.
    ``per: epoch`` (released code, spec 4.1): a stair-case ``lr = base·(1 − e/E)^power`` with e = 1..E set at
    the start of each epoch, so the first epoch already runs at ``base·(1 − 1/E)^power`` and the last at 0.
    """

    power: float = 0.9
    per: Literal["iteration", "epoch"] = "iteration"
    warmup_iters: int = 0
    warmup_ratio: float = 0.1  # the warm-up starts at this fraction of the scheduled learning rate


@dataclass
class TrainConfig:
    max_epochs: int | None = None
    max_steps: int | None = None  # optimizer steps; exactly one of max_epochs / max_steps
    precision: Literal["32-true", "16-mixed", "bf16-mixed"] = "32-true"
    channels_last: bool = False  # model weights and input batches in NHWC (faster convolutions with oneDNN/cuDNN)
    seed: int = 0
    deterministic: bool = False
    threads: int | None = None  # CPU threads for torch per process; None: torch's default (the cores)
    accelerator: Literal["auto", "cpu", "gpu", "cuda"] = "auto"
    devices: int | str = 1  # processes per node, or "auto"
    num_nodes: int = 1
    strategy: str = "auto"  # "ddp" for several devices; launch multi-node runs with torchrun
    sync_bn: bool = False  # SyncBatchNorm across processes (GPU only)
    val_every_n_epochs: int = 1
    checkpoint_every_n_steps: int | None = None  # also write last.ckpt every N steps (always at epoch ends)
    log_every_n_steps: int = 20
    grad_clip: float | None = None
    output_dir: str = "runs/train"
    progress_bar: bool = True
    num_sanity_val_steps: int = 0
    limit_train_batches: int | float = 1.0  # batches per epoch (int) or a fraction of them; for quick checks
    limit_val_batches: int | float = 1.0


@dataclass
class EvalConfig(InferenceSettings):
    """The ``eval`` section: the inference settings of validation during training and of ``alignseg eval``
    (spec 4.6; the one ``InferenceSettings`` type, also the predictor's), plus the papers' evaluation
    pre-processing of each validation image (``alignseg.data.eval_transforms``; the image is resized with
    ``data.interpolation``, the label with nearest neighbour)."""

    # none (full size) | exact: resize_size [height, width] (UDS) | keep_ratio: [short, long] bounds (mmseg
    # ADE20K [512, 2048], Pascal Context [520, 520]) | height: [height] (SFNet Mapillary [1536])
    resize: Literal["none", "exact", "keep_ratio", "height"] = "none"
    resize_size: list[int] | None = None
    center_crop: int | list[int] | None = None  # centre crop after the resize (Mapillary 1536); pads with ignore
    score_at: Literal["resized", "original"] = "resized"  # original: the label keeps its size (mmseg)


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def check(self, source: str = "the config", *, training: bool = True) -> Config:
        """Checks between keys (``training``: also that a training length is set); raises ConfigError
        naming the keys. Returns ``self``."""
        train, data, ev = self.train, self.data, self.eval
        if training and (train.max_epochs is None) == (train.max_steps is None):
            raise ConfigError(f"{source}: set exactly one of train.max_epochs and train.max_steps")
        for key, value in (("train.max_epochs", train.max_epochs), ("train.max_steps", train.max_steps)):
            if value is not None and value < 1:
                raise ConfigError(f"{source}: {key} must be at least 1, got {value}")
        positive = {
            "data.batch_size": data.batch_size,
            "data.class_uniform_tile": data.class_uniform_tile,
            "train.val_every_n_epochs": train.val_every_n_epochs,
            "train.num_nodes": train.num_nodes,
            "train.log_every_n_steps": train.log_every_n_steps,
        }
        for key, value in positive.items():
            if value < 1:
                raise ConfigError(f"{source}: {key} must be at least 1, got {value}")
        if train.threads is not None and train.threads < 1:
            raise ConfigError(f"{source}: train.threads must be at least 1 (or null), got {train.threads}")
        if data.workers < 0:
            raise ConfigError(f"{source}: data.workers must be >= 0, got {data.workers}")
        crop = [data.crop_size] * 2 if isinstance(data.crop_size, int) else data.crop_size
        if len(crop) != 2 or min(crop) < 1:
            raise ConfigError(f"{source}: data.crop_size must be a positive int or [height, width], got {crop}")
        for key, pair in (("data.scale_range", data.scale_range), ("data.blur_sigma", data.blur_sigma)):
            if len(pair) != 2 or not 0 < pair[0] <= pair[1]:
                raise ConfigError(f"{source}: {key} must be [low, high] with 0 < low <= high, got {pair}")
        if data.scale_choices is not None and (not data.scale_choices or min(data.scale_choices) <= 0):
            raise ConfigError(f"{source}: data.scale_choices must be a list of positive factors, got "
                              f"{data.scale_choices}")
        if not 0.0 <= data.class_uniform_pct <= 1.0:
            raise ConfigError(f"{source}: data.class_uniform_pct must be in [0, 1], got {data.class_uniform_pct}")
        if not 0.0 <= data.hflip <= 1.0:
            raise ConfigError(f"{source}: data.hflip must be in [0, 1], got {data.hflip}")
        if len(self.optim.betas) != 2:
            raise ConfigError(f"{source}: optim.betas must be [beta1, beta2], got {self.optim.betas}")
        _check_finite(self, source)
        optim = self.optim
        if optim.lr <= 0:
            raise ConfigError(f"{source}: optim.lr must be positive, got {optim.lr}")
        for key, value in (("optim.weight_decay", optim.weight_decay), ("optim.momentum", optim.momentum),
                           ("schedule.power", self.schedule.power)):
            if value < 0:
                raise ConfigError(f"{source}: {key} must be >= 0, got {value}")
        if not all(0 <= beta < 1 for beta in optim.betas):
            raise ConfigError(f"{source}: optim.betas must lie in [0, 1), got {optim.betas}")
        if train.grad_clip is not None and train.grad_clip <= 0:
            raise ConfigError(f"{source}: train.grad_clip must be positive (or null), got {train.grad_clip}")
        if self.optim.layer_decay is not None and not 0.0 < self.optim.layer_decay <= 1.0:
            raise ConfigError(f"{source}: optim.layer_decay must be in (0, 1] (or null), got {self.optim.layer_decay}")
        if self.optim.layer_decay_num_layers is not None and self.optim.layer_decay_num_layers < 1:
            raise ConfigError(f"{source}: optim.layer_decay_num_layers must be at least 1 (or null), got "
                              f"{self.optim.layer_decay_num_layers}")
        if self.schedule.warmup_iters < 0:
            raise ConfigError(f"{source}: schedule.warmup_iters must be >= 0, got {self.schedule.warmup_iters}")
        for key, limit in (("train.limit_train_batches", train.limit_train_batches),
                           ("train.limit_val_batches", train.limit_val_batches)):
            if limit < 0 or (isinstance(limit, float) and limit > 1.0):
                raise ConfigError(f"{source}: {key} must be a number of batches or a fraction in [0, 1], got {limit}")
        if isinstance(train.devices, str) and train.devices != "auto":
            raise ConfigError(f"{source}: train.devices must be a number of devices or 'auto', got {train.devices!r}")
        try:
            ev.check("eval.")
        except ValueError as error:
            raise ConfigError(f"{source}: {error}") from None
        sizes = {"none": 0, "exact": 2, "keep_ratio": 2, "height": 1}[ev.resize]
        given = ev.resize_size or []
        if len(given) != sizes or any(v < 1 for v in given):
            raise ConfigError(f"{source}: eval.resize {ev.resize!r} needs eval.resize_size with {sizes} positive "
                              f"sizes, got {ev.resize_size}")
        if ev.center_crop is not None and ev.score_at == "original":
            raise ConfigError(f"{source}: eval.center_crop cuts the label, so it needs eval.score_at 'resized'")
        return self


def _check_finite(config: Config, source: str) -> None:
    """Every float of every section (and inside lists) is a finite number: NaN or infinity is an error."""
    for section in dataclasses.fields(config):
        for item in dataclasses.fields(getattr(config, section.name)):
            value = getattr(getattr(config, section.name), item.name)
            values = value if isinstance(value, list) else [value]
            if any(isinstance(v, float) and not math.isfinite(v) for v in values):
                raise ConfigError(f"{source}: {section.name}.{item.name} must be a finite number, got {value}")


# ---------------------------------------------------------------------------------------------------------
# Reading: YAML mapping -> dataclasses, with type checks that name the key and its source


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(hint))
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(hint))
    if origin is list:
        (item,) = typing.get_args(hint)
        return f"list of {_type_name(item)}"
    if origin is dict:
        return "mapping"
    if hint is type(None):
        return "null"
    if hint is Any:
        return "any value"
    return getattr(hint, "__name__", str(hint))


def _coerce(value: Any, hint: Any) -> Any:
    """``value`` as type ``hint``; raises TypeError when it does not fit. Ints and numeric strings such as
    ``1e-4`` (which YAML 1.1 does not read as a number) are accepted as floats."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        for option in typing.get_args(hint):
            try:
                return _coerce(value, option)
            except TypeError:
                continue
        raise TypeError
    if origin is Literal:
        if value in typing.get_args(hint) and not isinstance(value, bool):
            return value
        raise TypeError
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list | tuple):
            raise TypeError
        return [_coerce(v, item) for v in value]
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise TypeError
        _, item = typing.get_args(hint)
        return {k: _coerce(v, item) for k, v in value.items()}
    if hint is type(None):
        if value is None:
            return None
        raise TypeError
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise TypeError
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise TypeError
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise TypeError
    if hint is str:
        if isinstance(value, str):
            return value
        raise TypeError
    raise TypeError(f"unsupported config type {hint!r}")  # a bug in the dataclasses above, not user input


def _build_section(cls: type, values: Any, section: str, source_of: typing.Callable[[str], str]) -> Any:
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{source_of(section)}: section '{section}' must be a mapping of keys to values, "
                          f"got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in values.items():
        dotted = f"{section}.{key}"
        if key not in hints:
            raise ConfigError(f"{source_of(dotted)}: unknown key '{dotted}'; valid keys in '{section}': "
                              f"{', '.join(names)}")
        try:
            kwargs[key] = _coerce(value, hints[key])
        except TypeError:
            raise ConfigError(f"{source_of(dotted)}: '{dotted}' must be {_type_name(hints[key])}, "
                              f"got {value!r}") from None
    return cls(**kwargs)


_SECTIONS = {f.name: f.type for f in dataclasses.fields(Config)}


def config_from_dict(
    raw: dict[str, Any], source: str = "the config", overridden: set[str] | None = None, *, training: bool = True
) -> Config:
    """Build and check a ``Config`` from a nested mapping; ``overridden`` dotted keys came from the command line."""
    overridden = overridden or set()

    def source_of(key: str) -> str:
        hit = any(key == k or k.startswith(key + ".") or key.startswith(k + ".") for k in overridden)
        return "command-line override" if hit else source

    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: a config must be a mapping of sections (model, data, ...), "
                          f"got {type(raw).__name__}")
    hints = typing.get_type_hints(Config)
    sections = {}
    for name, values in raw.items():
        if name not in _SECTIONS:
            raise ConfigError(f"{source_of(str(name))}: unknown section '{name}'; valid sections: "
                              f"{', '.join(_SECTIONS)}")
        sections[name] = _build_section(hints[name], values, name, source_of)
    return Config(**sections).check(source, training=training)


def parse_overrides(overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["train.max_epochs=3", "data.root=/x"]`` -> ``{"train.max_epochs": 3, "data.root": "/x"}``; a key
    may name one entry of a mapping, ``section.key.name``."""
    parsed = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or key.count(".") not in (1, 2) or not all(key.split(".")):
            raise ConfigError(f"override {item!r} must look like section.key=value, e.g. train.max_epochs=3 "
                              "(or section.key.name=value for one entry of a mapping)")
        try:
            parsed[key] = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            parsed[key] = text  # not YAML (e.g. an odd path): keep the text as it is
    return parsed


CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
"""The recipes shipped with the package (``alignseg/configs/<dataset>/<model>.yaml``)."""


def list_configs() -> list[str]:
    """The names of the shipped recipes, e.g. ``camvid/sfnet_lite_r18``."""
    return sorted(p.relative_to(CONFIG_DIR).with_suffix("").as_posix() for p in CONFIG_DIR.rglob("*.yaml"))


def find_config(path: str | os.PathLike) -> Path:
    """A config file: ``path`` itself when it is a file, else the shipped recipe it names
    (``camvid/sfnet_lite_r18``, with or without ``.yaml`` or a leading ``configs/``)."""
    candidate = Path(path)
    if candidate.is_file():
        return candidate
    name = candidate.as_posix().removeprefix("configs/").removesuffix(".yaml")
    shipped = CONFIG_DIR / f"{name}.yaml"
    if shipped.is_file():
        return shipped
    names = list_configs()
    raise FileNotFoundError(f"config {os.fspath(path)!r} is neither a file nor a shipped recipe; shipped: "
                            f"{', '.join(names[:6])}, ... ({len(names)} in {CONFIG_DIR})")


def load_config(
    path: str | os.PathLike | None,
    overrides: list[str] | tuple[str, ...] = (),
    *,
    training: bool = True,
    base: dict[str, Any] | None = None,
) -> Config:
    """Read a YAML config (a file or a shipped recipe's name, see :func:`find_config`; None: ``base`` or all
    defaults) and apply ``section.key=value`` overrides.

    ``training=False`` (evaluation) does not require a training length (train.max_epochs/max_steps);
    ``base`` is a config mapping recorded elsewhere (a checkpoint's) used when no file is given.
    """
    raw: dict[str, Any] = copy.deepcopy(base) if base is not None else {}
    source = "defaults" if base is None else "the recorded config"
    if path is not None:
        source = os.fspath(find_config(path))
        try:
            raw = yaml.safe_load(Path(source).read_text()) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{source}: not valid YAML: {error}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: a config must be a mapping of sections (model, data, ...)")
    parsed = parse_overrides(list(overrides))
    for key, value in parsed.items():
        section, name, *entry = key.split(".")
        if section not in _SECTIONS:
            raise ConfigError(f"command-line override: unknown section '{section}' in '{key}'; valid sections: "
                              f"{', '.join(_SECTIONS)}")
        current = raw.get(section)
        if current is None:
            current = raw[section] = {}
        if not isinstance(current, dict):
            raise ConfigError(f"{source}: section '{section}' must be a mapping")
        if not entry:
            current[name] = value
            continue
        mapping = current.get(name)
        if mapping is None:
            mapping = current[name] = {}
        if not isinstance(mapping, dict):
            raise ConfigError(f"command-line override {key}: '{section}.{name}' is {mapping!r} in {source}, not a "
                              f"mapping; override it whole ({section}.{name}=...)")
        mapping[entry[0]] = value
    return config_from_dict(raw, source, set(parsed), training=training)


def save_config(config: Config, path: str | os.PathLike) -> Path:
    """Write the resolved config as YAML (atomically), so a run records exactly what it used."""
    from ..fileio import atomic_write

    text = yaml.safe_dump(config.to_dict(), sort_keys=False, default_flow_style=None)
    return atomic_write(path, lambda stream: stream.write(text.encode()))
