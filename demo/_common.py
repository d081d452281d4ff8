"""Plumbing shared by the demo scenarios: seeding, `fit` with the callback at its defaults, the CLI."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np


def start(seed: int) -> np.random.Generator:
    """Fresh Keras state and every seed fixed: a scenario writes the same run each time."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    return np.random.default_rng(seed)


def callback(logdir: str, name: str) -> keras.callbacks.Callback:
    """`GradCauseCallback` at its default settings, writing the run `name` under `logdir`."""
    from tb_gradcause import GradCauseCallback

    return GradCauseCallback(os.path.join(logdir, name))


def fit(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    logdir: str,
    name: str,
    epochs: int,
    batch_size: int,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> keras.callbacks.History:
    """Train as a user would, with the gradcause callback added to the user's own callbacks."""
    return model.fit(
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        callbacks=[callback(logdir, name), *callbacks],
        verbose=0,
    )


def main(run: Callable[[str], None], description: str | None, argv: Sequence[str] | None = None) -> None:
    """`python demo/<name>.py LOGDIR`: write the scenario's run under LOGDIR."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("logdir", help="directory to write the run into")
    run(parser.parse_args(argv).logdir)
