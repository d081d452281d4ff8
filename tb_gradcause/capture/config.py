"""The callback's arguments, checked once: what a capture logs and how often."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from tb_gradcause import metadata
from tb_gradcause.capture.cadence import Cadence
from tb_gradcause.capture.gradient_check import SCOPES


@dataclasses.dataclass(frozen=True)
class CaptureConfig:
    kinds: frozenset[str]
    cadence: Cadence
    loss_every_step: bool
    max_input_features: int
    max_units: int | None
    gradient_check: str | None = "custom"  # `gradient_check.SCOPES`, None: off

    @classmethod
    def from_arguments(
        cls,
        every_n_steps: int | None,
        kinds: Iterable[str] | None,
        loss_every_step: bool,
        max_input_features: int,
        max_units: int | None,
        gradient_check: str | None = "custom",
    ) -> CaptureConfig:
        """Check the arguments of `GradCauseCallback` (ValueError naming the bad one)."""
        chosen = frozenset(metadata.SUMMARY_KINDS if kinds is None else kinds)
        unknown = chosen - set(metadata.SUMMARY_KINDS)
        if unknown:
            raise ValueError(f"unknown kinds {sorted(unknown)}; expected some of {metadata.SUMMARY_KINDS}")
        cadence = Cadence(every_n_steps)
        if int(max_input_features) < 1:
            raise ValueError(f"max_input_features must be >= 1, got {max_input_features}")
        if max_units is not None and int(max_units) < 1:
            raise ValueError(f"max_units must be >= 1 or None, got {max_units}")
        if gradient_check is not None and gradient_check not in SCOPES:
            raise ValueError(f"gradient_check must be one of {SCOPES} or None, got {gradient_check!r}")
        return cls(
            kinds=chosen,
            cadence=cadence,
            loss_every_step=bool(loss_every_step),
            max_input_features=int(max_input_features),
            max_units=int(max_units) if max_units is not None else None,
            gradient_check=gradient_check if "gradient_check" in chosen else None,
        )
