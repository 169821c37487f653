"""frame_waveform (lossless space-to-depth) and iacc."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spatialrep.features.functional import frame_waveform, iacc


def test_frame_waveform_layout_and_lossless():
    x = torch.arange(2 * 10, dtype=torch.float64).reshape(1, 2, 10)
    frames = frame_waveform(x, 4)
    assert frames.shape == (1, 8, 3)
    # channel c * 4 + k of frame t is sample t * 4 + k of channel c; the tail is zero-padded
    assert frames[0, 1 * 4 + 2, 1].item() == x[0, 1, 6].item()
    assert frames[0, 0 * 4 + 1, 2].item() == x[0, 0, 9].item()
    assert frames[0, 0 * 4 + 2, 2].item() == 0.0
    # inverse: nothing lost
    back = frames.reshape(1, 2, 4, 3).transpose(-1, -2).reshape(1, 2, 12)[..., :10]
    assert torch.equal(back, x)


def test_frame_waveform_rejects_bad_length():
    with pytest.raises(ValueError, match="frame_length"):
        frame_waveform(torch.zeros(1, 2, 8), 0)


def test_iacc_of_delayed_copy_is_one_and_of_independent_noise_is_small():
    rng = np.random.default_rng(0)
    s = np.zeros(4000)
    s[100:3800] = rng.standard_normal(3700)
    delayed = np.roll(s, 7)  # 7 samples = 0.44 ms at 16 kHz, within the ±1 ms search
    x = torch.tensor(np.stack([s, 0.5 * delayed]))
    assert iacc(x, 16000).item() == pytest.approx(1.0, abs=1e-9)
    noise = torch.tensor(rng.standard_normal((2, 4000)))
    assert iacc(noise, 16000).item() < 0.1
    # beyond the search range the delayed copy is not found
    far = torch.tensor(np.stack([s, np.roll(s, 40)]))
    assert iacc(far, 16000, max_lag_s=1e-3).item() < 0.2
    assert iacc(torch.stack([x, noise]), 16000).shape == (2,)
