"""Healthy: the keras-io PointNet recipe: two T-nets whose last Dense starts with a zero kernel and an
identity bias (so they output the identity for every cloud at first), with an orthogonality
activity regularizer, Conv1D/Dense + BatchNorm(momentum=0) + ReLU blocks and global max pooling."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from . import _common

SOURCE = "keras-io example 'Point cloud classification with PointNet' (David Griffiths)"
URL = "https://keras.io/examples/vision/pointnet/"
FIX = ""
MECHANISM = (
    "ModelNet10 meshes sampled to point clouds in their raw mesh units (not normalized), jittered "
    "by +-0.005 and shuffled per epoch; a T-net (conv_bn 32/64/512, max pool, dense_bn 256/128, "
    "Dense(k*k, kernel 'zeros', bias = identity, orthogonal activity regularizer)) transforms the "
    "points, conv_bn 32/32, a second T-net on the 32 features, conv_bn 32/64/512, max pool, "
    "dense_bn 256/128 with dropout 0.3, Dense(10, softmax); sparse cross-entropy, Adam(1e-3), "
    "batch 32. The source reaches ~75-80 % test accuracy. Awkward: a Dense layer whose output is "
    "the same for every sample at initialization (zero kernel), BatchNorm with momentum 0, an "
    "activity regularizer that also multiplies matrices across the batch (the example's tensordot), "
    "inputs tens of units large, and float64 point clouds."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []

NUM_POINTS = 128  # the example: 2048
NUM_CLASSES = 10
PER_CLASS = 24  # the example: 3,991 training meshes (~400 per class)

# Each class: boxes (centre x, y, z; size x, y, z) in units of the object's size, e.g. a table's top and legs.
_LEGS = [(x, y, 0.35, 0.05, 0.05, 0.7) for x in (-0.45, 0.45) for y in (-0.45, 0.45)]
SHAPES = [
    [(0, 0, 0.02, 1.6, 0.8, 0.04), (0, -0.4, 0.25, 1.6, 0.04, 0.5), (0, 0.4, 0.25, 1.6, 0.04, 0.5),
     (-0.8, 0, 0.25, 0.04, 0.8, 0.5), (0.8, 0, 0.25, 0.04, 0.8, 0.5)],  # bathtub
    [(0, 0, 0.2, 2.0, 1.4, 0.4), (-1.0, 0, 0.5, 0.1, 1.4, 1.0)],  # bed
    [(0, 0, 0.45, 0.5, 0.5, 0.05), (-0.25, 0, 0.75, 0.05, 0.5, 0.6)]
    + [(x * 0.5, y * 0.5, 0.22, 0.05, 0.05, 0.45) for x in (-0.45, 0.45) for y in (-0.45, 0.45)],  # chair
    [(0, 0, 0.75, 1.2, 0.6, 0.05), (-0.58, 0, 0.37, 0.05, 0.6, 0.75), (0.58, 0, 0.37, 0.05, 0.6, 0.75)],  # desk
    [(0, 0, 0.5, 1.0, 0.5, 1.0)],  # dresser
    [(0, 0, 0.5, 0.05, 0.6, 0.4), (0, 0, 0.15, 0.05, 0.05, 0.3), (0, 0, 0.01, 0.3, 0.2, 0.02)],  # monitor
    [(0, 0, 0.3, 0.5, 0.5, 0.6)],  # night_stand
    [(0, 0, 0.2, 2.0, 0.9, 0.4), (0, -0.4, 0.6, 2.0, 0.2, 0.5), (-0.9, 0, 0.5, 0.2, 0.9, 0.3),
     (0.9, 0, 0.5, 0.2, 0.9, 0.3)],  # sofa
    [(0, 0, 0.7, 1.0, 1.0, 0.05)] + _LEGS,  # table
    [(0, 0, 0.2, 0.4, 0.5, 0.4), (0, -0.3, 0.6, 0.4, 0.2, 0.4)],  # toilet
]  # fmt: skip


def sample_object(rng: np.random.Generator, boxes: list[tuple], n: int) -> np.ndarray:
    """n points uniformly on the surfaces of the boxes (each box jittered in size), in mesh units."""
    centre = np.array([b[:3] for b in boxes]) * rng.uniform(0.85, 1.15, (len(boxes), 3))
    size = np.array([b[3:] for b in boxes]) * rng.uniform(0.8, 1.2, (len(boxes), 3))
    faces = np.stack([size[:, 1] * size[:, 2], size[:, 0] * size[:, 2], size[:, 0] * size[:, 1]], axis=1)
    area = np.repeat(faces, 2, axis=1).ravel()  # 6 faces per box: +-x, +-y, +-z
    face = rng.choice(len(area), size=n, p=area / area.sum())
    box, axis, side = face // 6, (face % 6) // 2, face % 2
    points = rng.uniform(-0.5, 0.5, (n, 3))
    points[np.arange(n), axis] = np.where(side == 1, 0.5, -0.5)
    points = centre[box] + points * size[box]
    return points * np.exp(rng.uniform(np.log(5.0), np.log(60.0)))  # ModelNet's raw units vary per mesh


class OrthogonalRegularizer(keras.regularizers.Regularizer):
    """sum(l2reg * (x x^T - I)^2), with the example's tensordot (it pairs every matrix of the batch)."""

    def __init__(self, num_features: int, l2reg: float = 0.001):
        self.num_features = num_features
        self.l2reg = l2reg
        self.eye = tf.eye(num_features)

    def __call__(self, x):
        x = tf.reshape(x, (-1, self.num_features, self.num_features))
        xxt = tf.tensordot(x, x, axes=(2, 2))
        xxt = tf.reshape(xxt, (-1, self.num_features, self.num_features))
        return tf.reduce_sum(self.l2reg * tf.square(xxt - self.eye))


def conv_bn(x, filters: int, name: str):
    x = keras.layers.Conv1D(filters, kernel_size=1, padding="valid", name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(momentum=0.0, name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def dense_bn(x, filters: int, name: str):
    x = keras.layers.Dense(filters, name=f"{name}_dense")(x)
    x = keras.layers.BatchNormalization(momentum=0.0, name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def tnet(inputs, num_features: int, name: str):
    x = conv_bn(inputs, 32, f"{name}_1")
    x = conv_bn(x, 64, f"{name}_2")
    x = conv_bn(x, 512, f"{name}_3")
    x = keras.layers.GlobalMaxPooling1D(name=f"{name}_pool")(x)
    x = dense_bn(x, 256, f"{name}_4")
    x = dense_bn(x, 128, f"{name}_5")
    x = keras.layers.Dense(
        num_features * num_features,
        kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant(np.eye(num_features).flatten()),
        activity_regularizer=OrthogonalRegularizer(num_features),
        name=f"{name}_transform",
    )(x)
    feat_t = keras.layers.Reshape((num_features, num_features), name=f"{name}_reshape")(x)
    return keras.layers.Dot(axes=(2, 1), name=f"{name}_apply")([inputs, feat_t])


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(141)
    labels = np.repeat(np.arange(NUM_CLASSES), PER_CLASS)  # ordered by class, as parse_dataset returns them
    points = np.stack([sample_object(rng, SHAPES[c], NUM_POINTS) for c in labels])  # float64, like trimesh

    def augment(pts, label):
        pts += tf.random.uniform(pts.shape, -0.005, 0.005, dtype=tf.float64)
        return tf.random.shuffle(pts), label

    dataset = tf.data.Dataset.from_tensor_slices((points, labels))
    dataset = dataset.shuffle(len(points), seed=141).map(augment).batch(32)

    inputs = keras.Input(shape=(NUM_POINTS, 3))
    x = tnet(inputs, 3, "input_tnet")
    x = conv_bn(x, 32, "feat_1")
    x = conv_bn(x, 32, "feat_2")
    x = tnet(x, 32, "feat_tnet")
    x = conv_bn(x, 32, "feat_3")
    x = conv_bn(x, 64, "feat_4")
    x = conv_bn(x, 512, "feat_5")
    x = keras.layers.GlobalMaxPooling1D(name="pool")(x)
    x = dense_bn(x, 256, "head_1")
    x = keras.layers.Dropout(0.3, name="dropout_1")(x)
    x = dense_bn(x, 128, "head_2")
    x = keras.layers.Dropout(0.3, name="dropout_2")(x)
    outputs = keras.layers.Dense(NUM_CLASSES, activation="softmax", name="probs")(x)
    model = keras.Model(inputs=inputs, outputs=outputs, name="pointnet")
    model.compile(
        loss="sparse_categorical_crossentropy",
        optimizer=keras.optimizers.Adam(learning_rate=0.001),
        metrics=["sparse_categorical_accuracy"],
    )
    model.fit(dataset, epochs=6, verbose=0, callbacks=list(callbacks))  # the example: 20 epochs of 3,991
