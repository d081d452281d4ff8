"""Healthy: the keras-io collaborative-filtering recipe (RecommenderNet: user/movie embeddings and
biases, dot product, sigmoid) on MovieLens-shaped ratings: large sparse embedding tables."""

from __future__ import annotations

import keras
import numpy as np

from . import _common

SOURCE = "keras-io example 'Collaborative Filtering for Movie Recommendations' (RecommenderNet, MovieLens small)"
URL = "https://keras.io/examples/structured_data/collaborative_filtering_movielens/"
FIX = ""
MECHANISM = (
    "Embedding(610 users, 50) and Embedding(9724 movies, 50) with he_normal init and a 1e-6 L2 "
    "penalty, per-user and per-movie bias embeddings, dot product + biases -> sigmoid, BCE on "
    "ratings min-max scaled to [0, 1], Adam(0.001), batch 64. Awkward: a batch of 64 touches 64 "
    "of the 9,724 movie rows (a long tail of movies is rated once or never: zero gradient rows), "
    "and the targets are soft labels, so the loss has a floor far above 0."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []

NUM_USERS, NUM_MOVIES, EMBEDDING_SIZE = 610, 9724, 50


def ratings(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(user, movie) pairs with Zipf-like movie popularity and a low-rank taste model; ratings
    0.5-5 in steps of 0.5 scaled to [0, 1] as in the example."""
    movie_p = 1.0 / np.arange(1, NUM_MOVIES + 1) ** 0.9
    movie_p /= movie_p.sum()
    users = rng.integers(0, NUM_USERS, size=n)
    movies = rng.permutation(NUM_MOVIES)[rng.choice(NUM_MOVIES, size=n, p=movie_p)]
    u, m = rng.normal(size=(NUM_USERS, 4)), rng.normal(size=(NUM_MOVIES, 4))
    score = 3.5 + 0.6 * (u[users] * m[movies]).sum(axis=1) + 0.4 * rng.normal(size=n)
    rating = np.clip(np.round(score * 2) / 2, 0.5, 5.0)
    y = (rating - 0.5) / (5.0 - 0.5)
    return np.stack([users, movies], axis=1).astype("int32"), y.astype("float32")


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(116)
    x, y = ratings(rng, 15000)  # MovieLens small: 100,836 ratings (90 % for training)
    pair = keras.Input(shape=(2,), dtype="int32")
    user = keras.layers.Lambda(lambda t: t[:, 0], name="user_id")(pair)
    movie = keras.layers.Lambda(lambda t: t[:, 1], name="movie_id")(pair)
    reg = keras.regularizers.l2(1e-6)
    user_vector = keras.layers.Embedding(
        NUM_USERS, EMBEDDING_SIZE, embeddings_initializer="he_normal", embeddings_regularizer=reg, name="user_embedding"
    )(user)
    user_bias = keras.layers.Embedding(NUM_USERS, 1, name="user_bias")(user)
    movie_vector = keras.layers.Embedding(
        NUM_MOVIES,
        EMBEDDING_SIZE,
        embeddings_initializer="he_normal",
        embeddings_regularizer=reg,
        name="movie_embedding",
    )(movie)
    movie_bias = keras.layers.Embedding(NUM_MOVIES, 1, name="movie_bias")(movie)
    dot = keras.layers.Dot(axes=1, name="dot")([user_vector, movie_vector])
    x_out = keras.layers.Add(name="add_biases")([dot, user_bias, movie_bias])
    outputs = keras.layers.Activation("sigmoid", name="sigmoid")(x_out)
    model = keras.Model(pair, outputs)
    model.compile(loss=keras.losses.BinaryCrossentropy(), optimizer=keras.optimizers.Adam(learning_rate=0.001))
    # original: batch 64, 5 epochs on ~90,000 ratings; here 15,000 ratings, 2 epochs (~420 steps)
    _common.fit(model, x, y[:, None], callbacks, batch_size=64, epochs=2, validation_split=0.1)
