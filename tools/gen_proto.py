"""Regenerate tb_gradcause/plugin_data_pb2.py (and its .pyi type stubs) from plugin_data.proto.

Uses the protoc bundled in grpcio-tools 1.75.x (protobuf 6.31 gencode), the same
gencode version TensorBoard 2.21 ships, so the runtime floor stays protobuf>=6.31.1.
Run: pip install --target /tmp/gt grpcio-tools==1.75.1 --no-deps && PYTHONPATH=/tmp/gt python tools/gen_proto.py
"""

import pathlib
import sys

from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    sys.exit(
        protoc.main(
            [
                "protoc",
                f"-I{ROOT}",
                f"--python_out={ROOT}",
                f"--pyi_out={ROOT}",  # type stubs, for mypy
                str(ROOT / "tb_gradcause" / "plugin_data.proto"),
            ]
        )
    )
