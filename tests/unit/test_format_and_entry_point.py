"""The on-disk format helpers and the TensorBoard entry point."""

import argparse
import subprocess
import sys
from importlib import metadata as importlib_metadata

import pytest
from tensorboard.compat.proto import summary_pb2

from tb_gradcause import metadata
from tb_gradcause.plugin.loader import GradCauseLoader
from tb_gradcause.rows import RowInfo


def test_metadata_round_trip_keeps_rows_and_is_a_tensor_series():
    row = RowInfo(
        name="block/dense/kernel", layer="block/dense", layer_class="Dense", activation="relu", shape=[4, 3], depth=2
    )
    md = metadata.create_summary_metadata("gradients", [row])
    assert md.data_class == summary_pb2.DATA_CLASS_TENSOR
    assert md.plugin_data.plugin_name == metadata.PLUGIN_NAME
    parsed = metadata.parse_plugin_metadata(md.plugin_data.content)
    assert parsed.version == metadata.PROTO_VERSION
    assert parsed.kind == "gradients"
    assert list(parsed.stats) == list(metadata.KIND_STATS["gradients"])
    assert RowInfo.from_proto(parsed.rows[0]) == row


def test_newer_format_version_is_refused_clearly():
    content = metadata.plugin_data_pb2.GradCausePluginData(version=metadata.PROTO_VERSION + 1).SerializeToString()
    with pytest.raises(ValueError, match="upgrade tb_gradcause"):
        metadata.parse_plugin_metadata(content)


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown gradcause kind"):
        metadata.create_summary_metadata("gradient", [])


def test_tag_changes_with_the_row_set():
    assert metadata.tag_for("gradients", ["a", "b"]) == metadata.tag_for("gradients", ["a", "b"])
    assert metadata.tag_for("gradients", ["a", "b"]) != metadata.tag_for("gradients", ["a", "c"])
    assert metadata.tag_for("gradients", ["a"]).startswith("gradcause/gradients/")


def test_entry_point_is_registered_and_import_light():
    (entry,) = [e for e in importlib_metadata.entry_points(group="tensorboard_plugins") if e.name == "gradcause"]
    assert entry.value == "tb_gradcause.plugin.loader:GradCauseLoader"
    code = (
        "import sys, tb_gradcause.plugin.loader; "
        "heavy = [m for m in ('tensorflow', 'keras', 'tb_gradcause.plugin.gradcause_plugin') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("given, expected", [({}, 0), ({"gradcause": 7}, 7)])
def test_fix_flags_keeps_all_samples_unless_the_user_chose(given, expected):
    flags = argparse.Namespace(samples_per_plugin=dict(given))
    GradCauseLoader().fix_flags(flags)
    assert flags.samples_per_plugin["gradcause"] == expected
