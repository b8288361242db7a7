"""Shared data for the tests: the repository's sample and default model, and the CLI binary.

The sample (www/sample) is the catalog's first 3,000 items as float16 768-d embeddings; the
default model (www/models/default.safetensors) is the one the project ships. The CLI binary
(rqvae-train) is the reference the package must equal: tests/run-all.sh builds it and names it
in RQVAE_TRAIN_BIN.
"""

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import rqvae

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "www" / "sample" / "games-3000.f16.npy"
DEFAULT_MODEL = ROOT / "www" / "models" / "default.safetensors"


def cli_binary() -> Path:
    """The rqvae-train binary: RQVAE_TRAIN_BIN, else the release build in CARGO_TARGET_DIR."""
    named = os.environ.get("RQVAE_TRAIN_BIN")
    if named:
        return Path(named)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "release" / "rqvae-train"


@pytest.fixture(scope="session")
def cli():
    """Runs rqvae-train with the given arguments; returns the finished process."""
    binary = cli_binary()
    if not binary.is_file():
        pytest.fail(
            f"{binary} is missing: build it (cargo build --release -p rqvae-train) "
            "or name it in RQVAE_TRAIN_BIN"
        )

    def run(*args, check=True):
        return subprocess.run(
            [str(binary), *map(str, args)], capture_output=True, text=True, check=check
        )

    return run


@pytest.fixture(scope="session")
def model():
    return rqvae.Model.load(DEFAULT_MODEL)


@pytest.fixture(scope="session")
def sample_f16():
    x = np.load(SAMPLE)
    assert x.dtype == np.float16 and x.shape == (3000, 768)
    return x


@pytest.fixture(scope="session")
def sample_f32(sample_f16):
    return sample_f16.astype(np.float32)
