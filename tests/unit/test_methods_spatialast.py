"""SpatialAST: targets, shapes of the heads and embed(), the protocols, save / load, the paper's size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from spatial_fixtures import CLASSES, SyntheticStacks, spatialast_config

from spatialrep.config import ConfigError
from spatialrep.features.frontend import feature_preset
from spatialrep.methods import Embedder, Localizer, load_model
from spatialrep.methods.spatial_targets import SpatialTargetConfig, SpatialTargets
from spatialrep.methods.spatialast import SpatialAST, SpatialAstConfig, spatial_step, stack_channels
from spatialrep.train import save_checkpoint

PAPER_CLASSES = [f"class{k}" for k in range(355)]


def test_targets_encode_and_decode() -> None:
    targets = SpatialTargets(
        ["dog", "bell"], SpatialTargetConfig(azimuth_bin_deg=10.0, elevation_bin_deg=10.0)
    )
    row = {"id": "x", "class": ["bell", "dog"], "num_sources": 2, "azimuth_deg": [-95.0, 3.0],
           "elevation_deg": [42.0, 0.0], "distance_m": [2.2, 1.0]}  # fmt: skip
    t = targets.encode(row)
    assert t["sed"].tolist() == [1.0, 1.0] and not bool(t["single"])
    assert int(t["distance"]) == 4 and int(t["azimuth"]) == 26 and int(t["elevation"]) == 13
    assert targets.bin_azimuth_deg([26, 18, 0]).tolist() == [-100.0, 180.0, 0.0]
    assert targets.bin_elevation_deg([13]).tolist() == [40.0]
    assert targets.bin_distance_m([4]).tolist() == [2.0]
    assert int(targets.distance_bin(30.0)) == 20  # clipped to the last of 21 bins
    with pytest.raises(ValueError, match="'cat'"):
        targets.multi_hot(["cat"])
    with pytest.raises(ConfigError, match="azimuth_bin_deg"):
        SpatialTargetConfig(azimuth_bin_deg=7.0)


def test_paper_sized_model_matches_the_papers_parameter_count() -> None:
    with torch.device("meta"):  # shapes only
        model = SpatialAST(SpatialAstConfig(backbone="ast_base"), PAPER_CLASSES)
    count = sum(p.numel() for p in model.parameters())
    assert count == pytest.approx(85.96e6, rel=0.01)
    assert (model.heads["distance"].out_features, model.heads["azimuth"].out_features,
            model.heads["elevation"].out_features) == (21, 360, 180)  # fmt: skip


def test_shapes_protocols_and_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = SpatialAST(spatialast_config(), CLASSES).eval()
    assert isinstance(model, Localizer) and isinstance(model, Embedder)
    audio = torch.randn(2, 2, 4000)
    found = model.predict(audio, 16000)
    assert found["sed"].shape == (2, 4) and found["azimuth_deg"].shape == (2,)
    assert model.embed(audio, 16000).shape == (2, 12)
    stack = model.crop(model.frontend(audio))
    grid = model.grid(stack)
    assert model.embed(audio, 16000, tokens=True).shape == (2, 3 + grid[0] * grid[1], 12)
    directions = model.localize(audio, 16000)
    assert directions.elevation is not None and directions.class_names == tuple(CLASSES)
    save_checkpoint(tmp_path / "m", model, model_name="spatialast_model",
                    model_kwargs={"config": model.config.to_dict(), "class_names": CLASSES})  # fmt: skip
    loaded = load_model(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict(audio, 16000)["sed"], found["sed"], rtol=1e-6)
    with pytest.raises(ValueError, match="16000 Hz"):
        model.localize(audio, 8000)
    with pytest.raises(ValueError, match="fewer than one patch"):
        model.crop(torch.randn(1, 4, 16, 3))


def test_eval_masks_nothing_training_masks_rows_and_columns() -> None:
    torch.manual_seed(0)
    model = SpatialAST(spatialast_config(), CLASSES)
    batch = next(iter(torch.utils.data.DataLoader(SyntheticStacks(4, maps=4), batch_size=4)))
    from spatialrep.train import StepContext

    weights = {"sed": 1.0, "distance": 1.0, "direction": 1.0}
    context = StepContext("train", 0, torch.Generator().manual_seed(0))
    out = spatial_step(model, batch, context, loss_weights=weights)
    assert {"sed_loss", "distance_loss", "azimuth_loss", "elevation_loss"} <= set(out)
    model.eval()
    a = spatial_step(model, batch, None, loss_weights=weights)["loss"]
    b = spatial_step(model, batch, StepContext("val", 0, None), loss_weights=weights)["loss"]
    assert torch.equal(a, b)


def test_stack_channels_picks_spatialast_maps_out_of_a_dspast_cache() -> None:
    assert stack_channels(feature_preset("dspast"), feature_preset("spatialast")) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="n_mels"):
        stack_channels(feature_preset("dspast"), feature_preset("spatialast", n_mels=64))
    with pytest.raises(ValueError, match="lacks"):
        stack_channels(feature_preset("dspast", features=("logmel", "gcc_phat")), feature_preset("dspast"))


def test_stack_baseline_reads_the_flattened_stack_with_the_same_heads(tmp_path: Path) -> None:
    from spatialrep.methods.spatialast import StackBaseline
    from spatialrep.models import EncoderConfig

    torch.manual_seed(0)
    encoder = EncoderConfig(
        "crnn", {"conv_channels": 4, "pool_sizes": [4, 4], "gru_hidden": 5, "gru_layers": 1}
    )
    config = spatialast_config(encoder=encoder, mask_time=0.0, mask_freq=0.0)
    model = StackBaseline(config, CLASSES)
    assert isinstance(model, Localizer) and model.embedding_dim == 10
    batch = next(iter(torch.utils.data.DataLoader(SyntheticStacks(4, maps=4), batch_size=4)))
    out = spatial_step(model, batch, None, loss_weights={"sed": 1.0, "distance": 1.0, "direction": 1.0})
    out["loss"].backward()
    assert model.encoder.gru.weight_ih_l0.grad is not None
    audio = torch.randn(2, 2, 4000)
    assert model.predict(audio, 16000)["sed"].shape == (2, 4)
    assert model.embed(audio, 16000, tokens=True).shape[::2] == (2, 10)
    save_checkpoint(tmp_path / "b", model, model_name="spatial_stack_baseline",
                    model_kwargs={"config": config.to_dict(), "class_names": CLASSES})  # fmt: skip
    assert isinstance(load_model(tmp_path / "b"), StackBaseline)
    with pytest.raises(ConfigError, match="branches=1"):
        spatialast_config(encoder=encoder, branches=3)
