"""Helpers shared by the diagnosis-benchmark cases (see `cases/__init__.py` for the interface)."""

from __future__ import annotations

import keras
import numpy as np


def start(seed: int) -> np.random.Generator:
    """Fresh Keras state and every seed fixed (Python, NumPy, TensorFlow): a case trains the same way
    each time. Returns a NumPy Generator for the case's synthetic data."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    return np.random.default_rng(seed)


def fit(model: keras.Model, x, y, callbacks: list, **kwargs) -> keras.callbacks.History:
    """`model.fit(x, y, callbacks=callbacks, verbose=0, **kwargs)`, as a user would train."""
    kwargs.setdefault("verbose", 0)
    return model.fit(x, y, callbacks=list(callbacks), **kwargs)


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Float32 one-hot rows for integer labels."""
    return np.eye(n_classes, dtype="float32")[np.asarray(labels, dtype=int)]


def stroke_digits(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Digit-like 28x28 images in [0, 1] as float64 (n, 28, 28), and int labels: one blurred stroke
    template per class, shifted by up to 2 pixels, dark background (the DeepFD/AUTOTRAINER ports'
    MNIST stand-in; callers flatten or rescale it as their program did)."""
    yy, xx = np.mgrid[0:28, 0:28]
    templates = []
    for _ in range(10):
        img = np.zeros((28, 28))
        for _ in range(4):
            cy, cx = rng.uniform(8, 20, 2)
            img += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * rng.uniform(1.5, 3.0) ** 2))
        templates.append(img / img.max())
    labels = rng.integers(0, 10, n)
    x = np.empty((n, 28, 28))
    for i, c in enumerate(labels):
        dy, dx = rng.integers(-2, 3, 2)
        img = np.roll(np.roll(templates[c], dy, 0), dx, 1) * rng.uniform(0.7, 1.0)
        x[i] = np.where(img > 0.2, img, 0.0)
    return x, labels


def mnist_like(rng: np.random.Generator, n: int, n_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-shaped synthetic digits: (n, 28, 28, 1) float32 in [0, 1] and int labels.

    Each class is a fixed pattern of soft strokes inside the central 20x20 pixels; a sample is its
    class pattern shifted by up to 2 pixels, with random stroke intensity and pixel noise, clipped
    to [0, 1]. As in MNIST, most pixels are exactly 0 and the 4-pixel border is 0 in every image."""
    yy, xx = np.mgrid[0:28, 0:28].astype("float32")
    patterns = np.zeros((n_classes, 28, 28), "float32")
    for c in range(n_classes):
        for _ in range(5):  # a stroke: a row of blobs between two random points
            (y0, x0), (y1, x1) = rng.uniform(8, 20, size=(2, 2))
            for t in np.linspace(0, 1, 8):
                cy, cx = y0 + t * (y1 - y0), x0 + t * (x1 - x0)
                patterns[c] += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 1.2**2))
        patterns[c] /= patterns[c].max()
    labels = rng.integers(0, n_classes, size=n)
    shifts = rng.integers(-2, 3, size=(n, 2))
    x = np.empty((n, 28, 28), "float32")
    for i in range(n):
        x[i] = np.roll(patterns[labels[i]], tuple(shifts[i]), axis=(0, 1))
    x *= rng.uniform(0.7, 1.3, size=(n, 1, 1)).astype("float32")
    x += (rng.normal(0, 0.15, size=x.shape) * (x > 0.05)).astype("float32")
    x[x < 0.1] = 0.0
    np.clip(x, 0.0, 1.0, out=x)
    x[:, :4], x[:, -4:], x[:, :, :4], x[:, :, -4:] = 0.0, 0.0, 0.0, 0.0
    return x[..., None], labels


def cifar_like(rng: np.random.Generator, n: int, n_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10-shaped images: (n, 32, 32, 3) float32 in [0, 1] on the 1/255 grid (pixels / 255) and int
    labels. Each class is a smooth colour pattern (one low-frequency sine field per channel); a sample
    is its class pattern shifted by up to a tenth of the image, with random brightness and pixel noise."""
    yy, xx = np.mgrid[0:32, 0:32] / 32.0
    freqs = rng.uniform(1, 4, size=(n_classes, 3, 2))
    phases = rng.uniform(0, 2 * np.pi, size=(n_classes, 3))
    labels = rng.integers(0, n_classes, n)
    x = np.empty((n, 32, 32, 3), "float32")
    for i, c in enumerate(labels):
        dy, dx = rng.uniform(-0.1, 0.1, 2)
        for ch in range(3):
            fy, fx = freqs[c, ch]
            x[i, :, :, ch] = 0.5 + 0.35 * np.sin(2 * np.pi * (fy * (yy + dy) + fx * (xx + dx)) + phases[c, ch])
    x *= rng.uniform(0.7, 1.1, size=(n, 1, 1, 1)).astype("float32")
    x += rng.normal(0, 0.05, size=x.shape).astype("float32")
    return (np.clip(np.round(x * 255), 0, 255) / 255.0).astype("float32"), labels


def text_like(
    rng: np.random.Generator,
    n: int,
    vocab: int,
    length: int,
    min_length: int | None = None,
    padding: str = "post",
    n_classes: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """Tokenized-text-shaped data: (n, length) int32 ids in [1, vocab) padded with 0, and labels.

    Word frequencies follow a Zipf law (few common words, a long tail of rare ones, as in IMDB
    reviews); about 2 % of the vocabulary are "class words" (each tied to one class) and a
    sequence's label is the class whose words it uses most (ties: a random class)."""
    min_length = length if min_length is None else min_length
    ranks = np.arange(1, vocab)
    p = 1.0 / ranks**1.1
    p /= p.sum()
    ids = rng.choice(ranks, size=(n, length), p=p).astype("int32")
    word_class = np.full(vocab, -1)
    cue = rng.choice(np.arange(20, vocab), size=max(n_classes, vocab // 50), replace=False)
    word_class[cue] = np.arange(cue.size) % n_classes
    labels = rng.integers(0, n_classes, size=n)
    lengths = rng.integers(min_length, length + 1, size=n)
    for i in range(n):  # put a few words of the sequence's class in
        k = max(2, lengths[i] // 15)
        pos = rng.integers(0, lengths[i], size=k)
        ids[i, pos] = rng.choice(cue[word_class[cue] == labels[i]], size=k)
    mask = np.arange(length)[None, :] < lengths[:, None]
    counts = np.stack([((word_class[ids] == c) & mask).sum(axis=1) for c in range(n_classes)], axis=1)
    labels = counts.argmax(axis=1)
    ids[~mask] = 0
    if padding == "pre":
        ids = np.stack([np.roll(row, length - n) for row, n in zip(ids, lengths)])
    return ids, labels
