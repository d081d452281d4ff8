"""Healthy: the keras-io knowledge-distillation recipe, whose own `train_step` updates only the
student, while the trained teacher it also holds stays fixed (its weights get no gradient)."""

from __future__ import annotations

import keras
import tensorflow as tf

from . import _common

SOURCE = "keras-io example 'Knowledge Distillation' (Kenneth Borup)"
URL = "https://keras.io/examples/vision/knowledge_distillation/"
FIX = ""
MECHANISM = (
    "A teacher CNN is trained first as usual (Adam, sparse cross-entropy from logits); a Distiller "
    "model holding the teacher and a smaller student then trains the student on 0.1 x the label "
    "loss + 0.9 x T^2 x KL(softmax(teacher / T) || softmax(student / T)) with T = 10, in its own "
    "train_step that applies gradients to the student's variables only. The source reports the "
    "distilled student at ~98 %, above the student trained from scratch. Awkward: the teacher's "
    "variables belong to the trained model but never get a gradient (by design), the loss is a "
    "mix with a KL term between two softened distributions, the step returns no 'loss' (only "
    "'student_loss' and 'distillation_loss'), and LeakyReLU units."
)
HEALTHY = True
EXPECTED: list[dict] = []
ACCEPTABLE: list[str] = []


class Distiller(keras.Model):
    """Teacher held fixed, student trained on the mixed loss (the example's class)."""

    def __init__(self, student: keras.Model, teacher: keras.Model):
        super().__init__()
        self.teacher = teacher
        self.student = student

    def compile(self, optimizer, student_loss_fn, distillation_loss_fn, alpha=0.1, temperature=3):
        super().compile(optimizer=optimizer)
        self.student_loss_fn = student_loss_fn
        self.distillation_loss_fn = distillation_loss_fn
        self.alpha = alpha
        self.temperature = temperature
        self.accuracy = keras.metrics.SparseCategoricalAccuracy()

    @property
    def metrics(self):
        return [self.accuracy]

    def call(self, x):
        return self.student(x)

    def train_step(self, data):
        x, y = data
        teacher_predictions = self.teacher(x, training=False)
        with tf.GradientTape() as tape:
            student_predictions = self.student(x, training=True)
            student_loss = self.student_loss_fn(y, student_predictions)
            distillation_loss = (
                self.distillation_loss_fn(
                    tf.nn.softmax(teacher_predictions / self.temperature, axis=1),
                    tf.nn.softmax(student_predictions / self.temperature, axis=1),
                )
                * self.temperature**2
            )
            loss = self.alpha * student_loss + (1 - self.alpha) * distillation_loss
        trainable_vars = self.student.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)
        self.optimizer.apply_gradients(zip(gradients, trainable_vars))
        self.accuracy.update_state(y, student_predictions)
        return {
            "sparse_categorical_accuracy": self.accuracy.result(),
            "student_loss": student_loss,
            "distillation_loss": distillation_loss,
        }


def cnn(name: str, filters: tuple[int, int]) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            keras.layers.Conv2D(filters[0], (3, 3), strides=(2, 2), padding="same", name=f"{name}_conv_1"),
            keras.layers.LeakyReLU(negative_slope=0.2, name=f"{name}_lrelu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2), strides=(1, 1), padding="same", name=f"{name}_pool"),
            keras.layers.Conv2D(filters[1], (3, 3), strides=(2, 2), padding="same", name=f"{name}_conv_2"),
            keras.layers.Flatten(name=f"{name}_flatten"),
            keras.layers.Dense(10, name=f"{name}_logits"),
        ],
        name=name,
    )


def run(run_dir: str, callbacks: list) -> None:
    rng = _common.start(134)
    x, y = _common.mnist_like(rng, 4000)  # the example: MNIST / 255, 60,000 images
    teacher = cnn("teacher", (64, 128))  # the example: 256 / 512 filters
    student = cnn("student", (16, 32))  # as in the example

    teacher.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    teacher.fit(x, y, epochs=2, verbose=0)  # trained and fixed before distillation (the example: 5 epochs)

    distiller = Distiller(student=student, teacher=teacher)
    distiller.compile(
        optimizer=keras.optimizers.Adam(),
        student_loss_fn=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        distillation_loss_fn=keras.losses.KLDivergence(),
        alpha=0.1,
        temperature=10,
    )
    distiller.fit(x, y, epochs=3, verbose=0, callbacks=list(callbacks))  # as the example (batch 32)
