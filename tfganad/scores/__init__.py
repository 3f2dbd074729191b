"""Per-sample anomaly scores (shape (batch,), higher = more anomalous) and fitted normalisers."""

from tfganad.scores.composite import l1_distance_score, latent_augmented_score
from tfganad.scores.discriminator import bce_discriminator_score, feature_distance_score
from tfganad.scores.normalizers import ScoreNormalizer
from tfganad.scores.reconstruction import l1_residual_score, l2_residual_score, weighted_score

__all__ = [
    "ScoreNormalizer",
    "bce_discriminator_score",
    "feature_distance_score",
    "l1_distance_score",
    "l1_residual_score",
    "latent_augmented_score",
    "l2_residual_score",
    "weighted_score",
]

from tfganad.scores.mean_squared import mean_squared_score  # noqa: E402

__all__ += ["mean_squared_score"]

from tfganad.scores.norms import l2_norm_residual_score  # noqa: E402

__all__ += ["l2_norm_residual_score"]
