from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RowInfo(_message.Message):
    __slots__ = ("name", "layer", "layer_class", "activation", "shape", "recurrent", "role", "depth", "facts")
    class FactsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    LAYER_CLASS_FIELD_NUMBER: _ClassVar[int]
    ACTIVATION_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    RECURRENT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    layer: str
    layer_class: str
    activation: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    recurrent: bool
    role: str
    depth: int
    facts: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., layer: _Optional[str] = ..., layer_class: _Optional[str] = ..., activation: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., recurrent: bool = ..., role: _Optional[str] = ..., depth: _Optional[int] = ..., facts: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GradCausePluginData(_message.Message):
    __slots__ = ("version", "kind", "stats", "rows")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    version: int
    kind: str
    stats: _containers.RepeatedScalarFieldContainer[str]
    rows: _containers.RepeatedCompositeFieldContainer[RowInfo]
    def __init__(self, version: _Optional[int] = ..., kind: _Optional[str] = ..., stats: _Optional[_Iterable[str]] = ..., rows: _Optional[_Iterable[_Union[RowInfo, _Mapping]]] = ...) -> None: ...
