"""Healthy: the TensorFlow Transformer tutorial's warmup schedule (CustomSchedule) with Adam(0.9, 0.98,
1e-9), plus gradient clipping by norm, on a small Transformer encoder learning to reverse sequences."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from . import _common

SOURCE = (
    "TensorFlow tutorial 'Neural machine translation with a Transformer and Keras': PositionalEmbedding, "
    "EncoderLayer (MultiHeadAttention + FFN, residual + LayerNorm), CustomSchedule warmup, "
    "Adam(beta_2=0.98, epsilon=1e-9); clipnorm=1.0 added as the Deep Learning Tuning Playbook advises"
)
URL = "https://www.tensorflow.org/text/tutorials/transformer"
FIX = ""
MECHANISM = (
    "The learning rate rises linearly for 200 steps (d_model^-0.5 * min(step^-0.5, step * "
    "warmup^-1.5)) and decays after; every gradient is clipped to norm 1. Awkward: the loss "
    "stays near ln(vocab) during the first part of warm-up (tiny steps) and only then falls; "
    "clipping caps the gradient norm on many early steps; learned attention over fixed sinusoidal "
    "positions."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []

VOCAB, LENGTH, D_MODEL, HEADS, DFF = 40, 12, 128, 4, 256
WARMUP = 200  # the tutorial: 4000 steps for ~100k training steps


class CustomSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The tutorial's schedule: lrate = d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5)."""

    def __init__(self, d_model: int, warmup_steps: int = 4000) -> None:
        super().__init__()
        self.d_model = d_model
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        step = ops.cast(step, "float32") + 1.0
        arg1 = ops.rsqrt(step)
        arg2 = step * (self.warmup_steps**-1.5)
        return ops.rsqrt(ops.cast(self.d_model, "float32")) * ops.minimum(arg1, arg2)

    def get_config(self):
        return {"d_model": self.d_model, "warmup_steps": self.warmup_steps}


class PositionalEmbedding(keras.layers.Layer):
    """Token embedding scaled by sqrt(d_model) plus the fixed sinusoidal position encoding."""

    def __init__(self, vocab_size: int, d_model: int, length: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.d_model = d_model
        self.embedding = keras.layers.Embedding(vocab_size, d_model, name="token_embedding")
        depth = d_model / 2
        positions = np.arange(length)[:, None]
        depths = np.arange(depth)[None, :] / depth
        angle = positions / (10000**depths)
        self.pos_encoding = np.concatenate([np.sin(angle), np.cos(angle)], axis=-1).astype("float32")

    def call(self, x):
        x = self.embedding(x) * ops.sqrt(ops.cast(self.d_model, "float32"))
        return x + self.pos_encoding[None, : ops.shape(x)[1], :]


def encoder_layer(x, i: int):
    attn = keras.layers.MultiHeadAttention(num_heads=HEADS, key_dim=D_MODEL // HEADS, dropout=0.1, name=f"mha_{i}")(
        x, x
    )
    x = keras.layers.LayerNormalization(name=f"ln_attn_{i}")(keras.layers.Add(name=f"add_attn_{i}")([x, attn]))
    ffn = keras.layers.Dense(DFF, activation="relu", name=f"ffn_1_{i}")(x)
    ffn = keras.layers.Dense(D_MODEL, name=f"ffn_2_{i}")(ffn)
    ffn = keras.layers.Dropout(0.1, name=f"ffn_dropout_{i}")(ffn)
    return keras.layers.LayerNormalization(name=f"ln_ffn_{i}")(keras.layers.Add(name=f"add_ffn_{i}")([x, ffn]))


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(112)
    x = rng.integers(1, VOCAB, size=(5000, LENGTH)).astype("int32")
    y = x[:, ::-1].copy()  # task: output the sequence reversed
    inputs = keras.Input(shape=(LENGTH,), dtype="int32")
    h = PositionalEmbedding(VOCAB, D_MODEL, LENGTH, name="pos_embedding")(inputs)
    h = keras.layers.Dropout(0.1, name="emb_dropout")(h)
    for i in (1, 2):
        h = encoder_layer(h, i)
    logits = keras.layers.Dense(VOCAB, name="logits")(h)
    model = keras.Model(inputs, logits)
    optimizer = keras.optimizers.Adam(
        CustomSchedule(D_MODEL, WARMUP), beta_1=0.9, beta_2=0.98, epsilon=1e-9, clipnorm=1.0
    )
    model.compile(
        optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    _common.fit(model, x, y, callbacks, batch_size=64, epochs=6)  # 474 steps
