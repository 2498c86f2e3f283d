"""`pip install clients/python`: the shardex package, with its stubs
generated from ../../proto/shardex.proto by gen_stubs.sh while building
(so install from a checkout; README.md)."""
import os
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildPyWithStubs(build_py):
    """Runs gen_stubs.sh before copying the package."""

    def run(self):
        subprocess.check_call([
            os.path.join(HERE, "gen_stubs.sh"),
            os.path.join(HERE, "..", "..", "proto", "shardex.proto"),
            os.path.join(HERE, "shardex", "_proto"),
        ])
        super().run()


setup(
    name="shardex",
    version="0.1.0",
    description="Python client of a shardex coordinator",
    packages=["shardex", "shardex._proto"],
    # Debian: python3-grpcio python3-protobuf (a venv made with
    # --system-site-packages sees them).
    install_requires=["grpcio", "protobuf>=3.20"],
    python_requires=">=3.8",
    cmdclass={"build_py": BuildPyWithStubs},
)
