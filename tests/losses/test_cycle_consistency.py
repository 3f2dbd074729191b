"""ALICE/ALAD label-swapped cycle-consistency loss against hand-computed values.

Example: identity-pair logits real = [2, 0], reconstruction-pair logits fake = [0, −1].
BCE(0, l) = softplus(l), BCE(1, l) = softplus(−l).
"""

from __future__ import annotations

import numpy as np
import pytest

from tfganad.losses import bce_cycle_consistency_loss, bce_discriminator_loss

REAL = np.array([[2.0], [0.0]], np.float32)
FAKE = np.array([[0.0], [-1.0]], np.float32)


def test_cycle_consistency_loss_hand_computed():
    # sample 1: softplus(2) + softplus(0) = 2.126928 + 0.693147; sample 2: softplus(0) + softplus(1)
    # = 0.693147 + 1.313262 → mean of [2.820075, 2.006409] = 2.413242
    assert float(bce_cycle_consistency_loss(REAL, FAKE)) == pytest.approx(2.4132421, abs=1e-6)


def test_cycle_consistency_is_the_discriminator_loss_with_pairs_swapped():
    # D minimises BCE(1, real) + BCE(0, fake); G/E minimise BCE(0, real) + BCE(1, fake).
    assert float(bce_cycle_consistency_loss(REAL, FAKE)) == pytest.approx(
        float(bce_discriminator_loss(FAKE, REAL)), abs=1e-6)


def test_cycle_consistency_accepts_flat_logits_and_returns_float32_scalar():
    out = bce_cycle_consistency_loss(REAL.ravel(), FAKE.ravel())
    assert out.shape == () and out.dtype.name == "float32"
    assert float(out) == pytest.approx(2.4132421, abs=1e-6)
