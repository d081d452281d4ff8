"""Healthy: the keras-io "Text classification with Transformer" recipe (token + learned position
embeddings, one Transformer block with MultiHeadAttention) on IMDB-shaped reviews."""

from __future__ import annotations

import keras
from keras import ops

from . import _common

SOURCE = "keras-io example 'Text classification with Transformer' (Apoorv Nandan)"
URL = "https://keras.io/examples/nlp/text_classification_with_transformer/"
FIX = ""
MECHANISM = (
    "TokenAndPositionEmbedding(maxlen 200 -> here 100, vocab 20000, 32) -> TransformerBlock (MultiHeadAttention "
    "with 2 heads, Dropout, residual + LayerNorm, FFN) -> GAP -> Dropout -> Dense(20, relu) -> "
    "Dropout -> Dense(2, softmax); Adam, 2 epochs. Awkward: the learned position embedding does "
    "not depend on the input (by design), a 20,000-row token table is touched sparsely, and "
    "softmax attention can be peaked."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []

VOCAB_SIZE, MAXLEN, EMBED_DIM, NUM_HEADS, FF_DIM = 20000, 100, 32, 2, 32  # the example: maxlen 200


class TransformerBlock(keras.layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1, **kwargs):
        super().__init__(**kwargs)
        self.att = keras.layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim, name="attention")
        self.ffn = keras.Sequential(
            [keras.layers.Dense(ff_dim, activation="relu", name="ffn_1"), keras.layers.Dense(embed_dim, name="ffn_2")],
            name="ffn",
        )
        self.layernorm1 = keras.layers.LayerNormalization(epsilon=1e-6, name="layernorm_1")
        self.layernorm2 = keras.layers.LayerNormalization(epsilon=1e-6, name="layernorm_2")
        self.dropout1 = keras.layers.Dropout(rate)
        self.dropout2 = keras.layers.Dropout(rate)

    def call(self, inputs, training=None):
        attn_output = self.att(inputs, inputs)
        attn_output = self.dropout1(attn_output, training=training)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.ffn(out1)
        ffn_output = self.dropout2(ffn_output, training=training)
        return self.layernorm2(out1 + ffn_output)


class TokenAndPositionEmbedding(keras.layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.token_emb = keras.layers.Embedding(input_dim=vocab_size, output_dim=embed_dim, name="token_emb")
        self.pos_emb = keras.layers.Embedding(input_dim=maxlen, output_dim=embed_dim, name="pos_emb")

    def call(self, x):
        maxlen = ops.shape(x)[-1]
        positions = ops.arange(start=0, stop=maxlen, step=1)
        positions = self.pos_emb(positions)
        x = self.token_emb(x)
        return x + positions


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(115)
    x, y = _common.text_like(rng, 2000, VOCAB_SIZE, MAXLEN, min_length=30, padding="pre")  # pad_sequences pads 'pre'
    inputs = keras.Input(shape=(MAXLEN,), dtype="int32")
    h = TokenAndPositionEmbedding(MAXLEN, VOCAB_SIZE, EMBED_DIM, name="embedding")(inputs)
    h = TransformerBlock(EMBED_DIM, NUM_HEADS, FF_DIM, name="transformer_block")(h)
    h = keras.layers.GlobalAveragePooling1D(name="gap")(h)
    h = keras.layers.Dropout(0.1, name="dropout_1")(h)
    h = keras.layers.Dense(20, activation="relu", name="dense")(h)
    h = keras.layers.Dropout(0.1, name="dropout_2")(h)
    outputs = keras.layers.Dense(2, activation="softmax", name="output")(h)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    # original: 25,000 reviews, batch 32, 2 epochs; here 2,000 synthetic reviews of <= 100 tokens, 3 epochs
    _common.fit(model, x, y, callbacks, batch_size=32, epochs=3)
