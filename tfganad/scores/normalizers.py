"""Score normaliser fitted once on normal training/validation scores (never per batch, never on test)."""

from __future__ import annotations

import numpy as np

from tfganad.errors import ConfigError

NORMALIZERS = ("minmax", "zscore", "none")


class ScoreNormalizer:
    """Maps raw scores with a fitted affine map: s' = (s − offset) / scale.

    `minmax` (GANomaly's eq. 13 feature scaling, but fitted on normal validation scores so a sample's
    value never depends on the test set), `zscore`, or `none`.
    """

    def __init__(self, kind: str = "minmax"):
        if kind not in NORMALIZERS:
            raise ConfigError(f"unknown normalizer {kind!r}; allowed: {', '.join(NORMALIZERS)}")
        self.kind = kind
        self.offset = 0.0
        self.scale = 1.0

    def fit(self, scores) -> "ScoreNormalizer":
        """Fits offset and scale on a vector of (normal) scores."""
        scores = np.asarray(scores, dtype=np.float64).ravel()
        scores = scores[np.isfinite(scores)]
        if scores.size == 0:
            raise ConfigError("cannot fit a score normalizer on an empty or non-finite score vector")
        if self.kind == "minmax":
            self.offset = float(scores.min())
            self.scale = float(max(scores.max() - scores.min(), 1e-12))
        elif self.kind == "zscore":
            self.offset = float(scores.mean())
            self.scale = float(max(scores.std(), 1e-12))
        return self

    def transform(self, scores):
        """Applies the fitted map."""
        return (np.asarray(scores, dtype=np.float64) - self.offset) / self.scale
