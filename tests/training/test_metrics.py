"""Exact metrics against hand-computed values; label 1 = anomalous."""

import numpy as np
import pytest

from tfganad.errors import DataError
from tfganad.training import metrics as M

Y = np.array([0, 0, 1, 1])
S = np.array([0.1, 0.4, 0.35, 0.8])


def test_auroc_and_auprc_exact():
    assert M.auroc(Y, S) == pytest.approx(0.75)
    # ranks: 0.8 (1) P=1 R=.5; 0.4 (0); 0.35 (1) P=2/3 R=1 -> AP = .5*1 + .5*2/3
    assert M.auprc(Y, S) == pytest.approx(0.5 + 1 / 3)


def test_auprc_trapz_is_the_trapezoidal_area_of_the_pr_curve():
    """auc(recall, precision) as the survey/EGBAD code: PR points (R, P) = (0, 1), (.5, 1), (.5, .5),
    (1, 2/3): 0.5·1 + 0.5·(0.5 + 2/3)/2 = 19/24, below average precision (5/6) on this vector."""
    assert M.auprc_trapz(Y, S) == pytest.approx(19 / 24)
    out = M.evaluate_scores(Y, S)
    assert out["auprc"] == pytest.approx(5 / 6) and out["auprc_trapz"] == pytest.approx(19 / 24)


def test_prf_at_threshold():
    out = M.prf_at_threshold(Y, S, 0.3)
    assert out["precision"] == pytest.approx(2 / 3)
    assert out["recall"] == pytest.approx(1.0)
    assert out["f1"] == pytest.approx(0.8)


def test_percentile_rule_flags_top_share():
    thr = M.percentile_threshold(np.arange(100.0), 0.2)
    assert np.sum(np.arange(100.0) > thr) == 20


def test_evaluate_scores_has_all_keys():
    out = M.evaluate_scores(Y, S, contamination=0.5, threshold=0.3)
    for key in ("auroc", "auprc", "f1_at_contamination", "f1_at_val_threshold", "anomaly_share"):
        assert key in out
    assert out["f1_at_contamination"] == pytest.approx(0.5)  # flags 0.8 and 0.4


def test_single_class_test_split_is_a_clear_error():
    with pytest.raises(DataError, match="only class"):
        M.auroc(np.zeros(4), S)


def test_nan_scores_and_bad_contamination():
    with pytest.raises(DataError, match="NaN"):
        M.auroc(Y, np.array([0.1, np.nan, 0.2, 0.3]))
    with pytest.raises(DataError, match="contamination"):
        M.percentile_threshold(S, 1.5)
