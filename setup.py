"""tb_gradcause: a TensorBoard plugin that tells why training went wrong."""

import pathlib

from setuptools import find_packages, setup

ROOT = pathlib.Path(__file__).parent

setup(
    name="tb_gradcause",
    version="0.1.0",
    description="TensorBoard plugin that records per-layer gradient statistics and explains training failures",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    # The demo scenarios live in the top-level demo/ folder and ship as tb_gradcause.demo,
    # so `tb-gradcause demo` works from an installed package too.
    packages=find_packages(include=["tb_gradcause", "tb_gradcause.*"]) + ["tb_gradcause.demo"],
    package_dir={"tb_gradcause.demo": "demo"},
    package_data={"tb_gradcause": ["plugin_data.proto", "plugin_data_pb2.pyi"], "tb_gradcause.plugin": ["static/*"]},
    install_requires=[
        "tensorboard>=2.21",
        "numpy>=1.24",
        "protobuf>=6.31.1,<8",
    ],
    extras_require={
        # TensorFlow comes from the user's environment (tensorflow, tensorflow-cpu, tf-nightly, ...).
        "tensorflow": ["tensorflow>=2.21"],
        "tensorflow-cpu": ["tensorflow-cpu>=2.21"],
        "test": [
            "pytest>=8",
            "pytest-timeout>=2.3",
            "pytest-xdist>=3.6",
            "playwright>=1.50",
            "ruff==0.17.6",
            "mypy==2.4.1",
        ],
    },
    entry_points={
        "tensorboard_plugins": ["gradcause = tb_gradcause.plugin.loader:GradCauseLoader"],
        "console_scripts": ["tb-gradcause = tb_gradcause.cli:main"],
    },
    classifiers=[
        "Framework :: TensorFlow",
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
