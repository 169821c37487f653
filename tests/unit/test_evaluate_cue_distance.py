"""CueDistance is monotone on ITD and ILD sweeps; GCC-PHAT ITD sign and size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spatialrep.data.sqm_pairs import degrade
from spatialrep.evaluate.cue_distance import CueDistance, binaural_cues, gcc_phat_itd

RATE = 16000


def _reference() -> np.ndarray:
    rng = np.random.default_rng(0)
    s = np.convolve(rng.standard_normal(8000), np.ones(3) / 3, mode="same")
    return np.stack([s, np.roll(s, 2) * 0.8])  # right delayed 2 samples, quieter: source on the left


def test_cue_distance_is_monotone_on_itd_and_ild_sweeps():
    ref = _reference()
    metric = CueDistance(RATE)
    for kind, values in (("itd", (0, 50, 100, 200, 400)), ("ild", (0, 1, 3, 6, 12))):
        tests = torch.tensor(np.stack([degrade(ref, kind, v, RATE) for v in values]))
        refs = torch.tensor(np.stack([ref] * len(values)))
        d = metric(refs, tests).numpy()
        assert d[0] == 0.0
        assert np.all(np.diff(d) > 0), (kind, d)


def test_gcc_phat_itd_sign_and_value():
    ref = _reference()
    itd = gcc_phat_itd(torch.tensor(ref[None]), RATE).item()
    assert itd == pytest.approx(-2 / RATE, abs=1 / (8 * RATE))  # left leads: negative
    cues = binaural_cues(torch.tensor(ref[None]), RATE)[0]
    assert cues[0].item() == pytest.approx(20 * np.log10(1 / 0.8), abs=0.05)


def test_cue_distance_fit_and_validation():
    ref = torch.tensor(np.stack([_reference(), degrade(_reference(), "ild", 6, RATE)]))
    metric = CueDistance(RATE).fit(ref)
    assert metric.scales[0] > 0
    with pytest.raises(ValueError, match="shape"):
        metric(torch.zeros(1, 3, 100), torch.zeros(1, 3, 100))
    with pytest.raises(ValueError, match="NaN"):
        metric(torch.full((1, 2, 100), float("nan")), torch.zeros(1, 2, 100))
