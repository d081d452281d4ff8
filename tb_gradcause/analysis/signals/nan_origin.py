"""The `nan_origin` record read back: the op and line an eager replay of a non-finite step found
first (`capture/nan_origin.py`), in words for `nan_inf`'s title, evidence and advice."""

from __future__ import annotations

import dataclasses

import numpy as np

from tb_gradcause.analysis.reader import RunData

# What to do about the op types that turn finite values into NaN/Inf themselves.
OP_REMEDIES = {
    "Exp": "float32 exp overflows above ~88: keep its argument small (clip it) or work with the log of the value",
    "Log": "log of 0 is -Inf, of a negative value NaN: add an epsilon to its argument or clip it to [eps, ...]",
    "Sqrt": "sqrt of a negative value is NaN: clip its argument at 0 (plus an epsilon: its gradient at 0 is Inf)",
    "Rsqrt": "1/sqrt of 0 or of a negative value: add an epsilon to its argument",
    "Pow": "a power of 0 or of a negative value: clip the base at an epsilon",
    "RealDiv": "a division by zero: add an epsilon to the denominator (or use `tf.math.divide_no_nan`)",
    "Reciprocal": "a division by zero: add an epsilon to the denominator",
    "Xlogy": "log of 0 or of a negative value: clip its argument",
}


@dataclasses.dataclass(frozen=True)
class Origin:
    """The first NaN/Inf of step `step` as the replay found it (`found`), else why not (`reason`)."""

    step: int
    found: bool
    phase: str
    op: str
    layer: str
    layer_class: str
    source: str
    source_of: str  # "user" | "keras": whose line `source` is
    code: str
    reason: str

    @property
    def located_op(self) -> bool:
        """An op of the replay, with its place (not the batch or the weights found non-finite)."""
        return self.found and self.phase in ("forward", "loss", "backward")

    def text(self) -> str:
        """ "`Exp` in rate (Rate), model.py:42 (`return tf.math.exp(x)`)", or why there is none."""
        if not self.found:
            return f"not replayed: {self.reason}"
        if not self.located_op:
            return f"{self.phase} {self.op} already non-finite"
        if self.layer:
            where = f" in {self.layer}" + (f" ({self.layer_class})" if self.layer_class else "")
        else:
            where = " in the loss" if self.phase == "loss" else ""
        code = f" (`{self.code}`)" if self.code else ""
        source = f"Keras' {self.source}" if self.source_of == "keras" else self.source
        return f"`{self.op}`{where}, {source or 'no line of Python on its stack'}{code}"

    @property
    def remedy(self) -> str:
        """What to change in the op found, for the ops that make NaN/Inf of finite values ("" else)."""
        return OP_REMEDIES.get(self.op, "") if self.located_op else ""

    def sentence(self) -> str:
        """The sentence leading the advice: the op and its line ("" without one)."""
        if not self.located_op:
            return ""
        return f"Replayed eagerly, step {self.step}'s first op to produce NaN/Inf is {self.text()}. "


def first(run: RunData) -> Origin | None:
    """The earliest replayed non-finite step's origin, if the run logged one."""
    series = run.get("nan_origin")
    if series is None or len(series.steps) == 0 or not series.rows:
        return None
    row = series.rows[0]
    found = bool(np.nan_to_num(series.stat("found")[0, 0]) > 0)
    facts = row.facts
    return Origin(
        step=int(series.steps[0]),
        found=found,
        phase=facts.get("phase", ""),
        op=facts.get("op", ""),
        layer=row.layer,
        layer_class=row.layer_class,
        source=facts.get("source", ""),
        source_of=facts.get("source_of", ""),
        code=facts.get("code", ""),
        reason=facts.get("reason", ""),
    )
