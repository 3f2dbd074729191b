"""Bad-input matrix entries not covered next to their modules: corrupt .mat, empty training split."""

import numpy as np
import pytest

from tfganad.config import DataSpec
from tfganad.data import load_data, train_dataset
from tfganad.errors import DataError


def test_corrupt_mat_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "arrhythmia.mat"
    bad.write_bytes(b"MATLAB 5.0 MAT-file, but then garbage" + bytes(range(40)))
    with pytest.raises(DataError, match="arrhythmia.mat"):
        load_data(DataSpec(source="arrhythmia", path=str(bad), protocol="arrhythmia_alad", anomalous_class=None), 0)


def test_empty_training_split_is_a_clear_error(tmp_path):
    # every sample belongs to the anomalous class: nothing normal is left to train on
    np.savez(tmp_path / "one_class.npz", x=np.zeros((10, 4), np.float32), y=np.ones(10, np.int64))
    with pytest.raises(DataError):
        load_data(DataSpec(source="npz", path=str(tmp_path / "one_class.npz"), anomalous_class=1), 0)
    with pytest.raises(DataError, match="training split is empty"):
        train_dataset(np.zeros((0, 4), np.float32), batch_size=4, seed=0)
