"""FeatureConfig validation and serialisation; FeatureFrontEnd against the functional definitions."""

from __future__ import annotations

import copy
import json
import pickle

import numpy as np
import pytest
import torch

from spatialrep.features import functional as F
from spatialrep.features.frontend import (
    FEATURES,
    FeatureConfig,
    FeatureFrontEnd,
    feature_preset,
    list_feature_presets,
)


def _noise(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape)).to(dtype)


MEL = FeatureConfig(
    sample_rate=16000,
    num_channels=3,
    n_fft=256,
    hop_length=100,
    win_length=200,
    features=("logmel", "ipd_cos_sin_mel", "ild_mel", "gcc_phat", "gcc"),
    n_mels=32,
    f_min=50.0,
    f_max=7000.0,
    max_lag=None,
    num_lags=32,
    gcc_upsample=1,
    pairs=((0, 1), (2, 0)),
)
LINEAR = FeatureConfig(
    sample_rate=8000,
    num_channels=2,
    n_fft=128,
    hop_length=50,
    win_length=None,
    window="hamming",
    features=("logspec", "ipd", "ipd_cos_sin", "ild"),
    num_lags=None,
)
LAG = FeatureConfig(
    num_channels=4,
    n_fft=256,
    hop_length=128,
    win_length=None,
    features=("gcc_phat",),
    max_lag=8,
    num_lags=None,
    gcc_upsample=3,
)

ODD = FeatureConfig(
    n_fft=255,
    hop_length=64,
    win_length=200,
    features=("logmel", "ipd_cos_sin_mel", "gcc_phat"),
    n_mels=24,
    num_lags=24,
    gcc_upsample=2,
)


def functional_reference(cfg: FeatureConfig, x: torch.Tensor) -> dict[str, torch.Tensor]:
    kw = {"win_length": cfg.win_length, "window": cfg.window, "center": cfg.center}
    spec_args = (cfg.n_fft, cfg.hop_length)
    pairs = cfg.resolved_pairs
    ref: dict[str, torch.Tensor] = {}
    mel_args = (cfg.sample_rate, cfg.n_fft, cfg.hop_length, cfg.n_mels, cfg.f_min, cfg.f_max)
    for name in cfg.features:
        if name == "logmel":
            ref[name] = F.log_mel(x, *mel_args, **kw)
        elif name == "ild_mel":
            lm = F.log_mel(x, *mel_args, **kw)
            ref[name] = torch.stack([lm[..., i, :, :] - lm[..., j, :, :] for i, j in pairs], dim=-3)
        elif name == "ipd_cos_sin_mel":
            ref[name] = F.mel_projected_ipd(x, *mel_args, pairs, **kw).flatten(-4, -3)
        elif name == "gcc_phat":
            ref[name] = F.gcc_phat(
                x, *spec_args, cfg.max_lag, pairs, num_lags=cfg.num_lags, upsample=cfg.gcc_upsample, **kw
            )
        elif name == "gcc":
            ref[name] = F.gcc(
                x, *spec_args, cfg.max_lag, pairs, num_lags=cfg.num_lags, upsample=cfg.gcc_upsample,
                normalize=True, **kw,
            )  # fmt: skip
        elif name == "logspec":
            ref[name] = F.log_power_phase(x, *spec_args, **kw)[..., 0, :, :]
        elif name == "ipd":
            ref[name] = F.ipd(x, *spec_args, pairs, **kw)
        elif name == "ipd_cos_sin":
            ref[name] = F.ipd_cos_sin(x, *spec_args, pairs, **kw).flatten(-4, -3)
        elif name == "ild":
            ref[name] = F.ild(x, *spec_args, pairs, **kw)
    return ref


def assert_features_close(ours: dict[str, torch.Tensor], ref: dict[str, torch.Tensor], atol: float) -> None:
    assert list(ours) == list(ref)
    for name, value in ref.items():
        assert ours[name].shape == value.shape, name
        if name == "ipd":  # angles near +-pi may wrap differently by rounding
            diff = torch.remainder(ours[name] - value + np.pi, 2 * np.pi) - np.pi
            assert float(diff.abs().max()) < atol, name
        else:
            torch.testing.assert_close(ours[name], value, atol=atol, rtol=0, msg=name)


@pytest.mark.parametrize("cfg", [MEL, LINEAR, LAG, ODD], ids=["mel", "linear", "lag", "odd_n_fft"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_every_feature_matches_its_functional_definition(cfg, dtype):
    x = _noise(2, cfg.num_channels, 3 * cfg.sample_rate // 4 + 17, dtype=dtype)
    front = FeatureFrontEnd(cfg)
    ours = front.compute(x)
    atol = 2e-4 if dtype == torch.float32 else 1e-9
    assert_features_close(ours, functional_reference(cfg, x), atol)
    stacked = front(x)
    assert stacked.dtype == dtype
    assert stacked.shape == (2, cfg.num_feature_channels, cfg.num_bins, cfg.num_frames(x.shape[-1]))
    exact = 1e-5 if dtype == torch.float32 else 1e-12  # only the BLAS path may differ
    torch.testing.assert_close(stacked, torch.cat(list(ours.values()), dim=-3), atol=exact, rtol=0)
    assert len(front.channel_names) == cfg.num_feature_channels
    assert_features_close(
        front.compute_from_stft(front.stft(x)), ours, 1e-5 if dtype == torch.float32 else 1e-12
    )


def test_autograd_path_matches_fast_path_and_has_gradients():
    front = FeatureFrontEnd(MEL)
    x = _noise(3, 2000, seed=1, dtype=torch.float64).requires_grad_(True)
    slow = front(x)
    with torch.no_grad():
        fast = front(x)
    torch.testing.assert_close(slow, fast, atol=1e-9, rtol=0)
    slow.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and float(x.grad.abs().sum()) > 0
    small = FeatureFrontEnd(FeatureConfig(n_fft=32, hop_length=16, win_length=None, n_mels=8, num_lags=8))
    torch.autograd.gradcheck(small, (_noise(2, 96, seed=2, dtype=torch.float64).requires_grad_(True),))
    spec = small.stft(_noise(2, 96, seed=3, dtype=torch.float64)).requires_grad_(True)
    assert all(v.requires_grad for v in small.compute_from_stft(spec).values())


def test_blocks_batches_and_leading_dims_do_not_change_the_result():
    cfg = feature_preset("binaural_default")
    x = _noise(2, 3, 2, 16000 + 123, seed=4)
    reference = FeatureFrontEnd(cfg)(x)
    assert reference.shape == (2, 3, 6, 64, 101)
    for block_frames in (1, 7, 40, 101, 4000):
        torch.testing.assert_close(
            FeatureFrontEnd(cfg, block_frames=block_frames)(x), reference, atol=2e-5, rtol=0
        )
    front = FeatureFrontEnd(cfg)
    torch.testing.assert_close(front(x[1, 2]), reference[1, 2], atol=2e-5, rtol=0)
    # Repeated calls reuse scratch memory without leaking values between calls.
    torch.testing.assert_close(front(x), reference, atol=0, rtol=0)
    front.release_workspace()
    torch.testing.assert_close(front(x), reference, atol=0, rtol=0)


def test_center_false_and_short_clips():
    cfg = FeatureConfig(center=False, n_fft=256, hop_length=128, win_length=None, num_lags=64, gcc_upsample=1)
    x = _noise(2, 1000, seed=5)
    out = FeatureFrontEnd(cfg)(x)
    assert out.shape[-1] == cfg.num_frames(1000) == 1 + (1000 - 256) // 128
    assert_features_close(FeatureFrontEnd(cfg).compute(x), functional_reference(cfg, x), 2e-4)
    with pytest.raises(ValueError, match="center=False needs at least n_fft=256"):
        FeatureFrontEnd(cfg)(torch.zeros(2, 100))
    # center=True accepts clips shorter than a window.
    tiny = FeatureFrontEnd(FeatureConfig())(torch.zeros(2, 50))
    assert tiny.shape == (6, 64, 1) and torch.isfinite(tiny).all()


def test_silence_is_finite_and_conventional():
    out = FeatureFrontEnd(MEL).compute(torch.zeros(3, 1600))
    assert all(torch.isfinite(v).all() for v in out.values())
    assert float(out["logmel"].max()) == pytest.approx(-100.0)
    assert float(out["ipd_cos_sin_mel"].abs().max()) == 0.0
    assert float(out["gcc_phat"].abs().max()) == 0.0


def test_presets_shapes_and_names():
    assert list_feature_presets() == [
        "array4_mel_gcc", "binaural_default", "dcase_4ch", "dspast", "dspast_32k", "spatialast",
        "spatialast_32k",
    ]  # fmt: skip
    binaural = FeatureFrontEnd(feature_preset("binaural_default"))
    assert FeatureConfig() == feature_preset("binaural_default")
    assert binaural(torch.zeros(2, 16000)).shape == (6, 64, 101)
    assert binaural.channel_names == [
        "logmel[0]", "logmel[1]", "ipd_cos_sin_mel[0-1].cos", "ipd_cos_sin_mel[0-1].sin", "ild_mel[0-1]",
        "gcc_phat[0-1]",
    ]  # fmt: skip
    dcase = FeatureFrontEnd(feature_preset("dcase_4ch"))
    assert dcase.config.sample_rate == 24000
    assert dcase(torch.zeros(4, 24000)).shape == (10, 64, 51)
    assert dcase.channel_names[4:] == [f"gcc_phat[{i}-{j}]" for i, j in F.channel_pairs(4)]
    lags_ms, label = dcase.bin_axis("gcc_phat")
    assert label == "lag (ms)" and lags_ms[0] == pytest.approx(-32 / 24) and lags_ms.size == 64
    lags_ms, _ = binaural.bin_axis("gcc_phat")
    assert lags_ms[0] == pytest.approx(-1.0) and np.diff(lags_ms)[0] == pytest.approx(1 / 32)
    mel_hz, label = binaural.bin_axis("logmel")
    assert label.startswith("mel") and np.all(np.diff(mel_hz) > 0) and 0 < mel_hz[0] < mel_hz[-1] < 8000
    assert FeatureFrontEnd(LINEAR).bin_axis("ild")[0][-1] == pytest.approx(4000.0)
    np.testing.assert_allclose(binaural.frame_times(3), [0.0, 0.01, 0.02])
    assert feature_preset("dcase_4ch", n_mels=32, num_lags=32).num_bins == 32
    array4 = FeatureFrontEnd(feature_preset("array4_mel_gcc"))
    assert array4(torch.zeros(4, 16000)).shape == (10, 64, 101)
    lags_ms, _ = array4.bin_axis("gcc_phat")
    assert lags_ms[0] == pytest.approx(-0.5) and np.diff(lags_ms)[0] == pytest.approx(1 / 64)
    with pytest.raises(
        ValueError, match="unknown feature preset 'nope'; valid: array4_mel_gcc, binaural_def"
    ):
        feature_preset("nope")


def test_config_serialisation_and_hash():
    for cfg in (MEL, LINEAR, LAG, FeatureConfig()):
        text = json.dumps(cfg.to_dict())
        assert FeatureConfig.from_dict(json.loads(text)) == cfg
        assert FeatureConfig.from_json(cfg.to_json()) == cfg
    assert MEL.to_dict()["pairs"] == [[0, 1], [2, 0]]
    assert FeatureConfig().config_hash() == FeatureConfig.from_json(FeatureConfig().to_json()).config_hash()
    assert FeatureConfig().config_hash() != FeatureConfig(n_mels=32, num_lags=32).config_hash()
    assert len(FeatureConfig().config_hash()) == 16
    with pytest.raises(ValueError, match=r"unknown key.*bogus.*valid: sample_rate"):
        FeatureConfig.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match="mapping"):
        FeatureConfig.from_dict([1, 2])  # type: ignore[arg-type]
    # Works with the project's YAML/--set loader.
    from spatialrep.config import load_config

    loaded = load_config(FeatureConfig, feature_preset("dcase_4ch").to_dict(), ["n_mels=32", "num_lags=32"])
    assert loaded.n_mels == 32 and loaded.features == ("logmel", "gcc_phat")


def test_module_state_and_copies():
    front = FeatureFrontEnd(feature_preset("binaural_default"))
    assert front.state_dict() == {}
    x = _noise(2, 4000, seed=6)
    y = front(x)
    for clone in (copy.deepcopy(front), pickle.loads(pickle.dumps(front))):
        assert clone._workspaces == {}
        torch.testing.assert_close(clone(x), y, atol=0, rtol=0)
    assert "features=" in repr(front)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"features": ("logmel", "mfcc")}, "unknown feature 'mfcc'; valid: logmel, logspec"),
        ({"features": ()}, "at least one"),
        ({"features": ("logmel", "logmel")}, "twice"),
        ({"features": ("logmel", "ild")}, r"share one bin count.*logmel: 64 mel bins, ild: 257 linear bins"),
        ({"num_lags": 32}, r"gcc_phat: 32 lag bins"),
        ({"num_lags": None}, "exactly one of max_lag or num_lags"),
        ({"n_fft": 64, "win_length": None, "gcc_upsample": 1}, "circular wrap-around"),
        ({"num_channels": 1}, "need num_channels >= 2"),
        ({"pairs": ((0, 2),)}, "invalid pair"),
        ({"features": ("logmel",), "pairs": ((0, 1),)}, "no pairwise feature"),
        ({"window": "kaiser"}, "unknown window 'kaiser'; valid: hann"),
        ({"win_length": 1024}, r"win_length \(1024\) must be <= n_fft"),
        ({"f_max": 9000.0}, "f_max"),
        ({"f_min": 9000.0}, "f_min"),
        ({"sample_rate": 0}, "sample_rate must be a positive integer"),
        ({"hop_length": True}, "hop_length must be a positive integer"),
        ({"max_lag": -1, "num_lags": None}, "max_lag"),
        ({"f_min": "low"}, "f_min must be a number"),
        ({"f_max": "high"}, "f_max must be a number"),
        ({"center": 1}, "center must be true or false"),
        ({"eps": 0.0}, "floor and eps must be > 0"),
    ],
)
def test_config_guards(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FeatureConfig(**kwargs)


def test_front_end_guards():
    front = FeatureFrontEnd(FeatureConfig())
    with pytest.raises(ValueError, match="expects 2 channels"):
        front(torch.zeros(3, 1000))
    with pytest.raises(TypeError, match="float32 or float64"):
        front(torch.zeros(2, 1000, dtype=torch.int32))
    bad = torch.zeros(4, 2, 1000)
    bad[2, 1, 7] = float("nan")
    bad[3, 0, 0] = float("inf")
    with pytest.raises(ValueError, match=r"NaN or infinite samples \(batch item\(s\) 2, 3 of shape"):
        front(bad)
    with pytest.raises(ValueError, match=r"spec must have shape \(\.\.\., 2, 257, frames\)"):
        front.compute_from_stft(torch.zeros(2, 129, 10, dtype=torch.complex64))
    with pytest.raises(TypeError, match="FeatureConfig"):
        FeatureFrontEnd({"features": ["logmel"]})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="block_frames"):
        FeatureFrontEnd(FeatureConfig(), block_frames=0)
    with pytest.raises(ValueError, match="unknown feature 'x'"):
        FeatureConfig().feature_bins("x")


def test_feature_table_is_complete():
    assert set(FEATURES) == {
        "logmel", "logspec", "ipd", "ipd_cos_sin", "ild", "ipd_cos_sin_mel", "ild_mel", "gcc_phat", "gcc",
    }  # fmt: skip
    for spec in FEATURES.values():
        assert spec.grid in ("mel", "linear", "lag") and spec.per in ("channel", "pair")


def test_docs_example_runs():
    """The runnable example of docs/features.md stays runnable."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "features.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "docs/features.md lost its python example"
    namespace: dict[str, object] = {}
    exec(compile(blocks[-1].replace("print(", "(lambda *a: None)("), "features.md", "exec"), namespace)
    assert tuple(namespace["feats"].shape) == (8, 6, 32, 101)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "maps"), [("spatialast", 4), ("dspast", 6), ("spatialast_32k", 4), ("dspast_32k", 6)]
)
def test_spatialast_and_dspast_presets(name: str, maps: int) -> None:
    config = feature_preset(name)
    stack = FeatureFrontEnd(config)(_noise(1, 2, config.sample_rate))
    assert stack.shape == (1, maps, 128, 101)
    assert config.f_min == 50.0 and config.n_fft == config.win_length
    if config.num_lags is not None:  # GCC-PHAT: n_mels lags spanning ±2 ms
        lags = F.gcc_lags(config.n_fft, num_lags=config.num_lags, upsample=config.gcc_upsample)
        assert config.num_lags == config.n_mels
        assert -float(lags[0]) / config.sample_rate == pytest.approx(2e-3)
