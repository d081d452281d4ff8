"""Walk a Keras model into the layers tb_gradcause watches, with their paths and facts.

Models nested in the model are containers: their layers are listed with the model's name as a
path prefix ("encoder/dense_1"). Recurrent layers and wrappers (RNN, Bidirectional,
TimeDistributed) are watched as a whole: their inner cell's call is a shape probe, not the
time steps. Any other layer is watched, and so are the layers it holds.
"""

from __future__ import annotations

import dataclasses

import keras

# Layer classes that are an activation function themselves.
_ACTIVATION_LAYERS = {
    "ReLU": "relu",
    "Softmax": "softmax",
    "LeakyReLU": "leaky_relu",
    "ELU": "elu",
    "PReLU": "prelu",
}


@dataclasses.dataclass
class LayerEntry:
    """A watched layer."""

    layer: keras.layers.Layer
    path: str
    recurrent: bool
    activation: str
    own_variables: list  # trainable variables not owned by a watched sub-layer


def is_recurrent(layer: keras.layers.Layer) -> bool:
    """True for RNN layers and wrappers around one (Bidirectional, TimeDistributed(LSTM), ...)."""
    if isinstance(layer, keras.layers.RNN):
        return True
    inner = getattr(layer, "layer", None) or getattr(layer, "forward_layer", None)
    return isinstance(inner, keras.layers.Layer) and is_recurrent(inner)


def _is_whole(layer: keras.layers.Layer) -> bool:
    return isinstance(layer, (keras.layers.RNN, keras.layers.Wrapper)) or is_recurrent(layer)


def activation_name(layer: keras.layers.Layer) -> str:
    """Name of the function producing the layer's output ("relu", "linear"), "" if unknown."""
    cls = type(layer).__name__
    if cls in _ACTIVATION_LAYERS:
        return _ACTIVATION_LAYERS[cls]
    for inner_attr in ("forward_layer", "layer", "cell"):
        inner = getattr(layer, inner_attr, None)
        if isinstance(inner, keras.layers.Layer) and not hasattr(layer, "activation"):
            return activation_name(inner)
    if not hasattr(layer, "activation"):
        return ""
    act = layer.activation
    if act is None:
        return "linear"
    if isinstance(act, str):
        return act
    if isinstance(act, keras.layers.Layer):
        return activation_name(act)
    return getattr(act, "__name__", "") or ""


def _children(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    return [
        child
        for child in layer._flatten_layers(include_self=False, recursive=False)  # pylint: disable=protected-access
        if not isinstance(child, keras.layers.InputLayer)
    ]


def walk(model: keras.Model) -> list[LayerEntry]:
    """Watched layers of `model` in tracking order (the forward order is known only at trace time)."""
    entries: list[LayerEntry] = []
    seen: set[int] = set()

    def visit(layer: keras.layers.Layer, prefix: str) -> None:
        for child in _children(layer):
            if id(child) in seen:
                continue
            seen.add(id(child))
            path = f"{prefix}{child.name}"
            if isinstance(child, keras.Model):
                visit(child, path + "/")
                continue
            entry = LayerEntry(child, path, is_recurrent(child), activation_name(child), [])
            entries.append(entry)
            if not _is_whole(child):
                visit(child, path + "/")

    visit(model, "")
    owned: set[int] = set()
    for entry in reversed(entries):  # inner layers first: they own their variables
        for v in entry.layer.trainable_weights:
            if id(v) not in owned:
                owned.add(id(v))
                entry.own_variables.append(v)
    return entries
