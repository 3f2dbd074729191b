"""Data containers. Label convention everywhere: 1 = anomalous, 0 = normal."""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np


@dataclasses.dataclass
class LabeledData:
    """What a source yields: samples with their class ids, before any anomaly protocol.

    Attributes:
        x: images (N, H, W, C) or rows (N, F), raw values.
        labels: class id per sample (N,).
        kind: "image" or "tabular".
        value_range: (low, high) of raw image values, mapped to [-1, 1]; None for tabular rows.
        origin: per-sample tag of where it came from (e.g. "train"/"test" of the source's own split).
        anomaly_labels: for sources whose labels are already normal/anomalous (1 = anomalous).
    """

    x: np.ndarray
    labels: np.ndarray
    kind: str = "image"
    value_range: Optional[tuple] = (0.0, 255.0)
    origin: Optional[np.ndarray] = None
    name: str = ""
    binary: bool = False
    #: ground-truth pixel masks (N, H, W) in {0, 1}; NaN rows = no mask known (only some sources have them)
    masks: Optional[np.ndarray] = None
    #: the split protocol the source prescribes (e.g. `mvtec`: its train/ and test/ folders); None = any
    protocol: Optional[str] = None
    #: rows read from text with categorical columns: {"columns": raw column names in file order,
    #: "categories": {column: one-hot vocabulary}, "order": column order of the features in x}; the
    #: exported model takes the raw fields (tfganad.preprocessing.Preprocessor)
    layout: Optional[dict] = None


@dataclasses.dataclass
class AnomalyData:
    """Splits of one anomaly-detection task.

    x_train and x_val hold normal data only (unless a protocol keeps training data contaminated, as
    ALAD's Arrhythmia preset does; then `y_train` says so). y_test: 1 = anomalous.
    """

    x_train: np.ndarray
    x_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    y_train: Optional[np.ndarray] = None
    y_val: Optional[np.ndarray] = None
    contamination: Optional[float] = None
    info: dict = dataclasses.field(default_factory=dict)
    #: ground-truth pixel masks of the test images (N, H, W), NaN rows where unknown; None without masks
    masks_test: Optional[np.ndarray] = None

    @property
    def input_shape(self):
        return tuple(self.x_train.shape[1:])

    def summary(self) -> str:
        """One line with split sizes and the test anomaly share."""
        share = float(np.mean(self.y_test)) if len(self.y_test) else 0.0
        train = f"train {len(self.x_train)} normal"
        if self.y_train is not None and len(self.y_train) and np.any(self.y_train):
            train = f"train {len(self.x_train)} ({float(np.mean(self.y_train)):.1%} anomalous, unfiltered)"
        return (f"{train}, validation {len(self.x_val)}, "
                f"test {len(self.x_test)} ({share:.1%} anomalous), input shape {self.input_shape}")
