"""The training criterion: one module that turns a segmentor's named training outputs into the loss.

Design (DESIGN.md, "the training-output contract"):

* The model never sees labels and holds no loss. In training mode a segmentor returns
  ``{"out": logits, "aux": {name: logits}, "loss_inputs": {name: tensor}}`` (``models/segmentor.py``):
  deep-supervision heads are ``dsn_0``, ``dsn_1``, ... (coarse → fine), a decoder adds its own named
  ``aux_logits`` (HFGD's ``teacher``) and ``loss_inputs`` (the CAE features of the CAR losses).
* One *pixel loss* (``loss.name``, catalogue ``LOSSES``) scores the main logits with weight 1 and every
  aux logits with its weight, each resized to the label size with the model's ``align_corners``.
* *Loss terms* score everything else. A term is an ``nn.Module`` registered in ``LOSS_TERMS`` under a
  name, built as ``factory(context: LossContext, **kwargs)``, declaring the names of its parts in
  ``parts`` and called as ``term(outputs, labels) -> {part: loss}``; each part has a weight.
* Weights and terms come from the zoo entry's ``loss_defaults`` (``models.zoo.LossDefaults``), which the
  ``loss.*`` keys of a config override: ``aux_weights`` maps an output name (``teacher``) or a family,
  the name before ``_<index>`` (``dsn`` covers ``dsn_0``, ``dsn_1``, ...), to its weight; a single number
  is shorthand for the ``dsn`` family (the released configs' ``aux_weights: 0.4``) and a list gives one
  weight per ``dsn_i``. ``terms`` adds terms or replaces their arguments (``null`` removes one) and
  ``term_weights`` weighs their parts.
* Nothing is dropped silently: an aux output without a weight, a term part without a weight, and a
  configured weight naming nothing the model or the terms produce are errors naming the key.
* ``forward`` returns ``(total, parts)``: the detached, unweighted losses named ``main``, by aux output
  (``dsn_0``, ``teacher``) and by term part (``car_intra``), for logging.

A loss term, e.g. HFGD's CAR losses in ``losses/car.py``::

    @register_loss_term("car")
    class CARLoss(nn.Module):
        parts = ("car_intra", "car_c2c", "car_c2p")

        def __init__(self, context: LossContext, **options): ...

        def forward(self, outputs, labels):
            features = loss_input(outputs, "car_features", self)
            return {"car_intra": ..., "car_c2c": ..., "car_c2p": ...}
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from torch import Tensor, nn

from .pixel import LOSSES, build_loss

__all__ = [
    "LOSS_TERMS",
    "LossContext",
    "SegmentationCriterion",
    "build_criterion",
    "loss_input",
    "register_loss_term",
]

DSN = "dsn"  # the family of deep-supervision heads: dsn_0, dsn_1, ...
_INDEXED = re.compile(r"(.+)_(\d+)")


@dataclass(frozen=True)
class LossContext:
    """What every loss term may need to know about the model and the data."""

    num_classes: int
    ignore_index: int
    align_corners: bool  # the model's resize convention
    class_weights: tuple[float, ...] | None = None


LossTermFactory = Callable[..., nn.Module]
LOSS_TERMS: dict[str, LossTermFactory] = {}


def register_loss_term(name: str) -> Callable[[LossTermFactory], LossTermFactory]:
    """Decorator: register a loss-term factory (usually the class) under ``name``."""

    def add(factory: LossTermFactory) -> LossTermFactory:
        if name in LOSS_TERMS:
            raise ValueError(f"a loss term named {name!r} is already registered ({LOSS_TERMS[name]})")
        LOSS_TERMS[name] = factory
        return factory

    return add


def loss_input(outputs: Mapping[str, Any], name: str, term: nn.Module) -> Tensor:
    """``outputs["loss_inputs"][name]``, or one error saying which term needed it and what the model gave."""
    inputs = outputs.get("loss_inputs") or {}
    if name not in inputs:
        raise ValueError(f"loss term {type(term).__name__} reads loss_inputs[{name!r}], but the model returns "
                         f"{sorted(inputs) or 'no loss inputs'}")
    return inputs[name]


class LossDefaultsLike(Protocol):
    """``alignseg.models.zoo.LossDefaults`` (read here by attribute; models do not depend on losses)."""

    aux_weights: Mapping[str, float]
    terms: Mapping[str, Mapping[str, Any]]
    term_weights: Mapping[str, float]


def _family(name: str) -> str | None:
    match = _INDEXED.fullmatch(name)
    return match.group(1) if match else None


class SegmentationCriterion(nn.Module):
    """``pixel(out) + Σ_a w_a · pixel(aux_a) + Σ_p w_p · part_p`` over a segmentor's training outputs.

    Build it with :func:`build_criterion`. ``aux_weights`` maps output names or families to weights;
    ``dsn_weights`` (optional) gives one weight per ``dsn_i`` instead; every key of ``checked`` must name
    an aux output (or family) of each call. ``terms`` are the loss terms, ``term_weights`` one weight per
    part they declare.
    """

    def __init__(
        self,
        pixel_loss: nn.Module,
        *,
        aux_weights: Mapping[str, float],
        dsn_weights: Sequence[float] | None = None,
        checked: Sequence[str] = (),
        terms: Mapping[str, nn.Module] | None = None,
        term_weights: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__()
        self.pixel_loss = pixel_loss
        self.aux_weights = {name: float(w) for name, w in aux_weights.items()}
        self.dsn_weights = None if dsn_weights is None else tuple(float(w) for w in dsn_weights)
        self.checked = tuple(checked)
        self.terms = nn.ModuleDict(dict(terms or {}))
        self.term_weights = {name: float(w) for name, w in (term_weights or {}).items()}
        parts = [part for term in self.terms.values() for part in term.parts]
        if len(set(parts)) != len(parts) or "main" in parts:
            raise ValueError(f"loss terms {list(self.terms)} declare clashing part names {parts}")
        missing = [part for part in parts if part not in self.term_weights]
        if missing:
            raise ValueError(f"no weight for loss-term part(s) {missing}: set loss.term_weights.<part> "
                             f"(e.g. loss.term_weights.{missing[0]}=1.0) or give them in the zoo entry")

    def aux_weight(self, name: str, dsn_count: int) -> float:
        """The weight of aux output ``name`` (exact name first, then its family)."""
        family = _family(name)
        if self.dsn_weights is not None and family == DSN:
            if len(self.dsn_weights) != dsn_count:
                raise ValueError(f"the model returned {dsn_count} deep-supervision outputs but loss.aux_weights "
                                 f"lists {len(self.dsn_weights)} weights {list(self.dsn_weights)}")
            return self.dsn_weights[int(name.rpartition("_")[2])]
        for key in (name, family):
            if key in self.aux_weights:
                return self.aux_weights[key]
        raise ValueError(f"the model returns aux output {name!r} but no loss weight is set for it: set "
                         f"loss.aux_weights.{name}" + (f" (or loss.aux_weights.{family})" if family else ""))

    def forward(self, outputs: Mapping[str, Any], labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        aux: Mapping[str, Tensor] = outputs.get("aux") or {}
        self._check_names(aux)
        dsn_count = sum(_family(name) == DSN for name in aux)
        total = self.pixel_loss(outputs["out"], labels)
        parts = {"main": total.detach()}
        for name, logits in aux.items():
            loss = self.pixel_loss(logits, labels)
            total = total + self.aux_weight(name, dsn_count) * loss
            parts[name] = loss.detach()
        for term_name, term in self.terms.items():
            values = term(outputs, labels)
            if set(values) != set(term.parts):
                raise ValueError(f"loss term {term_name!r} returned parts {sorted(values)}, but declares "
                                 f"{sorted(term.parts)}")
            for part, loss in values.items():
                total = total + self.term_weights[part] * loss
                parts[part] = loss.detach()
        return total, parts

    def _check_names(self, aux: Mapping[str, Tensor]) -> None:
        names = set(aux)
        families = {_family(name) for name in names}
        unknown = [key for key in self.checked if key not in names and key not in families]
        if unknown:
            raise ValueError(f"loss.aux_weights names {unknown}, which the model does not return (its aux "
                             f"outputs: {sorted(names) or 'none'})")
        clash = sorted(names & ({"main"} | set(self.term_weights)))
        if clash:
            raise ValueError(f"aux outputs {clash} have the names of other loss parts")

    def extra_repr(self) -> str:
        weights = list(self.dsn_weights) if self.dsn_weights is not None else self.aux_weights
        return f"aux_weights={weights}, term_weights={self.term_weights}"


def _merged_terms(
    defaults: Mapping[str, Mapping[str, Any]], overrides: Mapping[str, Mapping[str, Any] | None]
) -> dict[str, dict[str, Any]]:
    terms = {name: dict(kwargs) for name, kwargs in defaults.items()}
    for name, kwargs in overrides.items():
        if kwargs is None:
            terms.pop(name, None)
        elif not isinstance(kwargs, Mapping):
            raise ValueError(f"loss.terms.{name} must be a mapping of the term's arguments (or null to remove "
                             f"it), got {kwargs!r}")
        else:
            terms[name] = {**terms.get(name, {}), **kwargs}
    return terms


def build_criterion(
    defaults: LossDefaultsLike | None,
    *,
    num_classes: int,
    align_corners: bool,
    ignore_index: int = 255,
    name: str = "ce",
    kwargs: Mapping[str, Any] | None = None,
    aux_weights: float | Sequence[float] | Mapping[str, float] | None = None,
    terms: Mapping[str, Mapping[str, Any] | None] | None = None,
    term_weights: Mapping[str, float] | None = None,
    class_weights: Sequence[float] | None = None,
) -> SegmentationCriterion:
    """The criterion of a model: its zoo entry's ``defaults`` (``LossDefaults``; None: no defaults) with
    the config's ``loss.*`` values on top (the keyword arguments, named as the config keys).

    ``align_corners`` is the model's (``model.align_corners``); ``class_weights`` one weight per class.
    Bad values raise one ``ValueError`` naming the ``loss.*`` key.
    """
    weights = None
    if class_weights is not None:
        weights = tuple(float(w) for w in class_weights)
        if len(weights) != num_classes:
            raise ValueError(f"loss.class_weights has {len(weights)} entries for {num_classes} classes")
    if name not in LOSSES:
        raise ValueError(f"unknown loss.name {name!r}; valid names: {', '.join(sorted(LOSSES))}")
    pixel_kwargs: dict[str, Any] = {"ignore_index": ignore_index, "align_corners": align_corners, **(kwargs or {})}
    if weights is not None:
        pixel_kwargs["weight"] = weights
    try:
        pixel_loss = build_loss(name, **pixel_kwargs)
    except TypeError as error:
        raise ValueError(f"loss.kwargs {dict(kwargs or {})} do not fit loss {name!r}: {error}") from None

    merged = dict(defaults.aux_weights) if defaults is not None else {}
    dsn_weights, checked = None, []
    if isinstance(aux_weights, int | float) and not isinstance(aux_weights, bool):
        merged[DSN] = float(aux_weights)
    elif isinstance(aux_weights, Mapping):
        merged.update(aux_weights)
        checked = list(aux_weights)
    elif isinstance(aux_weights, Sequence) and not isinstance(aux_weights, str):
        dsn_weights = list(aux_weights)
    elif aux_weights is not None:
        raise ValueError(f"loss.aux_weights must be a number, a list or a mapping of names to numbers, "
                         f"got {aux_weights!r}")

    context = LossContext(num_classes, ignore_index, align_corners, weights)
    built = {}
    for term_name, term_kwargs in _merged_terms(defaults.terms if defaults else {}, terms or {}).items():
        if term_name not in LOSS_TERMS:
            raise ValueError(f"unknown loss term {term_name!r} in loss.terms; registered terms: "
                             f"{', '.join(sorted(LOSS_TERMS)) or 'none'}")
        try:
            built[term_name] = LOSS_TERMS[term_name](context, **term_kwargs)
        except TypeError as error:
            raise ValueError(f"loss.terms.{term_name} {term_kwargs} do not fit the term: {error}") from None
    part_weights = {**(defaults.term_weights if defaults else {}), **(term_weights or {})}
    declared = {part for term in built.values() for part in term.parts}
    unknown = sorted(set(term_weights or {}) - declared)
    if unknown:
        raise ValueError(f"loss.term_weights names {unknown}, which no loss term returns (parts: "
                         f"{sorted(declared) or 'none'})")
    return SegmentationCriterion(pixel_loss, aux_weights=merged, dsn_weights=dsn_weights, checked=checked,
                                 terms=built, term_weights={p: w for p, w in part_weights.items() if p in declared})
