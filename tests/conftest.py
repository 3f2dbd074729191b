"""Shared fixtures: tiny deterministic data, no network, no ../shared required."""

from __future__ import annotations

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

SHARED_DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed():
    import keras

    keras.utils.set_random_seed(0)
    yield


@pytest.fixture(scope="session")
def tiny_images():
    """32 images 16×16×1 in [-1, 1], deterministic."""
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, (32, 16, 16, 1)).astype("float32")


@pytest.fixture(scope="session")
def tiny_rows():
    """32 rows with 12 features, deterministic."""
    rng = np.random.default_rng(1)
    return rng.normal(size=(32, 12)).astype("float32")


@pytest.fixture
def shared_data():
    """Path of ../shared/data; skips the test when the folder is absent (a user's fresh clone)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA
