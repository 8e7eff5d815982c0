"""The result of a checkpoint conversion: renamed tensors and every source tensor left out, with why."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch


@dataclass
class ConversionReport:
    """Converted state dict plus the source keys dropped on purpose (key → reason)."""

    state_dict: dict[str, torch.Tensor] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """A short human-readable account of what was dropped, grouped by reason."""
        if not self.dropped:
            return f"converted {len(self.state_dict)} tensors; nothing dropped"
        by_reason: dict[str, list[str]] = {}
        for key, reason in self.dropped.items():
            by_reason.setdefault(reason, []).append(key)
        lines = [f"converted {len(self.state_dict)} tensors; dropped {len(self.dropped)} unused tensors:"]
        for reason, keys in by_reason.items():
            lines.append(f"  - {len(keys)} tensors ({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''}): {reason}")
        return "\n".join(lines)


@dataclass(frozen=True)
class RenameRule:
    """Rename keys matching ``pattern`` (a regex anchored at the start) to ``target``, or drop them."""

    pattern: str
    target: str | None
    reason: str = ""


def apply_rules(
    state_dict: dict[str, torch.Tensor], rules: Sequence[RenameRule], report: ConversionReport, source: str
) -> None:
    """Rename or drop every key by the first matching rule; a key no rule matches is an error."""
    compiled = [(re.compile(rule.pattern), rule) for rule in rules]
    for key, tensor in state_dict.items():
        for regex, rule in compiled:
            match = regex.match(key)
            if match is None:
                continue
            if rule.target is None:
                report.dropped[key] = rule.reason
            else:
                report.state_dict[match.expand(rule.target) + key[match.end():]] = tensor
            break
        else:
            raise KeyError(f"{source}: no conversion rule for official key {key!r}")
