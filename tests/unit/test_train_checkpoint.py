"""save_checkpoint / load_checkpoint / read_meta: round trip, every error, and no unpickling."""

from __future__ import annotations

import json
import pickle
import platform
import struct
from pathlib import Path
from unittest import mock

import pytest
import safetensors
import safetensors.torch
import torch
from torch import nn

import spatialrep
from spatialrep.features.frontend import FeatureConfig
from spatialrep.train import CheckpointMeta, load_checkpoint, read_meta, save_checkpoint
from spatialrep.train.checkpoint import META_FILE, WEIGHTS_FILE


class TinyNet(nn.Module):
    """Parameters, float and integer buffers (BatchNorm) and a tied weight."""

    def __init__(self, in_dim: int = 4, hidden: int = 3, tied: bool = False) -> None:
        super().__init__()
        self.encoder = nn.Linear(in_dim, hidden)
        self.norm = nn.BatchNorm1d(hidden)
        self.decoder = nn.Linear(hidden, in_dim, bias=False)
        if tied:
            self.decoder.weight = nn.Parameter(self.encoder.weight.T.contiguous())
            self.head = nn.Linear(in_dim, hidden)
            self.head.weight = self.encoder.weight  # shares memory with encoder.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.norm(self.encoder(x)))


KWARGS = {"in_dim": 4, "hidden": 3}


def factory(name: str, **kwargs: object) -> nn.Module:
    if name != "tiny":
        raise KeyError(name)
    return TinyNet(**kwargs)  # type: ignore[arg-type]


def trained_net(**kwargs: object) -> TinyNet:
    torch.manual_seed(0)
    net = TinyNet(**kwargs)  # type: ignore[arg-type]
    net.train()
    net(torch.randn(8, 4))  # moves the BatchNorm running statistics off their defaults
    return net


def assert_same_state(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for name in sa:
        assert sa[name].dtype == sb[name].dtype, name
        torch.testing.assert_close(sa[name], sb[name], rtol=0, atol=0)


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, TinyNet]:
    net = trained_net()
    save_checkpoint(
        tmp_path / "ckpt",
        net,
        model_name="tiny",
        model_kwargs=KWARGS,
        feature_config=FeatureConfig(),
        extra={"method": "test", "step": 7},
    )
    return tmp_path / "ckpt", net


# --------------------------------------------------------------------------------------------- round trip


def test_round_trip_with_callable_factory(saved):
    folder, net = saved
    assert sorted(p.name for p in folder.iterdir()) == [META_FILE, WEIGHTS_FILE]
    model, meta = load_checkpoint(folder, factory)
    assert isinstance(model, TinyNet) and not model.training
    assert_same_state(model, net)
    assert model.state_dict()["norm.num_batches_tracked"].item() == 1
    assert isinstance(meta, CheckpointMeta)
    assert meta.model_name == "tiny"
    assert meta.model_kwargs == KWARGS
    assert meta.extra == {"method": "test", "step": 7}
    assert meta.versions == {
        "spatialrep": spatialrep.__version__,
        "torch": torch.__version__,
        "safetensors": safetensors.__version__,
        "python": platform.python_version(),
    }
    assert meta.feature_config == FeatureConfig().to_dict()
    assert FeatureConfig.from_dict(meta.feature_config) == FeatureConfig()
    assert read_meta(folder) == meta


def test_round_trip_with_mapping_factory_and_dict_feature_config(tmp_path):
    net = trained_net()
    save_checkpoint(tmp_path, net, model_name="tiny", model_kwargs=KWARGS, feature_config={"n_mels": 32})
    model, meta = load_checkpoint(tmp_path, {"tiny": TinyNet, "other": nn.Linear})
    assert_same_state(model, net)
    assert meta.feature_config == {"n_mels": 32}
    assert meta.extra == {}


def test_round_trip_without_feature_config_and_tied_weights(tmp_path):
    net = trained_net(tied=True)
    assert net.head.weight.data_ptr() == net.encoder.weight.data_ptr()
    save_checkpoint(tmp_path, net, model_name="tiny", model_kwargs={**KWARGS, "tied": True})
    model, meta = load_checkpoint(tmp_path, factory)
    assert meta.feature_config is None
    assert meta.model_kwargs["tied"] is True
    assert_same_state(model, net)


def test_saving_overwrites_a_previous_checkpoint(saved):
    folder, _ = saved
    other = TinyNet()
    nn.init.constant_(other.encoder.weight, 0.5)
    save_checkpoint(folder, other, model_name="tiny", model_kwargs=KWARGS)
    model, meta = load_checkpoint(folder, factory)
    assert torch.all(model.encoder.weight == 0.5)
    assert meta.feature_config is None


def test_map_location(saved):
    folder, _ = saved
    model, _ = load_checkpoint(folder, factory, map_location=torch.device("cpu"))
    assert {t.device.type for t in model.state_dict().values()} == {"cpu"}


# ------------------------------------------------------------------------------------------ no pickle


def test_weights_are_plain_safetensors_and_json(saved):
    folder, net = saved
    raw = (folder / WEIGHTS_FILE).read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])  # safetensors: u64 header length + a JSON header
    header = json.loads(raw[8 : 8 + header_len])
    assert header["__metadata__"] == {"format": "spatialrep-checkpoint"}
    assert not raw.startswith(b"\x80") and b"PK\x03\x04" not in raw[:4]  # neither a pickle nor a torch zip
    tensors = safetensors.torch.load_file(str(folder / WEIGHTS_FILE))
    assert set(tensors) == set(net.state_dict())
    meta = json.loads((folder / META_FILE).read_text())
    assert meta["format"] == "spatialrep-checkpoint" and meta["format_version"] == 1
    assert len(meta["weights_sha256"]) == 64


def test_loading_never_unpickles(saved):
    folder, net = saved
    forbidden = mock.Mock(side_effect=AssertionError("unpickling attempted"))
    with (
        mock.patch.object(pickle, "load", forbidden),
        mock.patch.object(pickle, "loads", forbidden),
        mock.patch.object(pickle, "Unpickler", forbidden),
        mock.patch.object(torch, "load", forbidden),
    ):
        model, _ = load_checkpoint(folder, factory)
    forbidden.assert_not_called()
    assert_same_state(model, net)


# ----------------------------------------------------------------------------------------- save errors


def test_save_rejects_empty_model_name(tmp_path):
    with pytest.raises(ValueError, match="model_name must be a non-empty string"):
        save_checkpoint(tmp_path, TinyNet(), model_name="")
    assert not (tmp_path / WEIGHTS_FILE).exists()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model_kwargs": {"device": torch.device("cpu")}}, "model_kwargs is not JSON-serialisable"),
        ({"model_kwargs": {"x": float("nan")}}, "model_kwargs is not JSON-serialisable"),
        ({"feature_config": {"window": object()}}, "feature_config is not JSON-serialisable"),
        ({"extra": {"loss": torch.tensor(1.0)}}, "extra is not JSON-serialisable"),
    ],
)
def test_save_rejects_non_json_metadata(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        save_checkpoint(tmp_path, TinyNet(), model_name="tiny", **kwargs)
    assert not (tmp_path / META_FILE).exists()


def test_save_rejects_feature_config_without_to_dict(tmp_path):
    with pytest.raises(TypeError, match=r"feature_config must be a dict or have to_dict\(\), got int"):
        save_checkpoint(tmp_path, TinyNet(), model_name="tiny", feature_config=3)


# ----------------------------------------------------------------------------------------- load errors


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint folder not found"):
        load_checkpoint(tmp_path / "nope", factory)


def test_missing_meta_file(saved):
    folder, _ = saved
    (folder / META_FILE).unlink()
    with pytest.raises(FileNotFoundError, match=r"checkpoint metadata not found: .*model\.json"):
        load_checkpoint(folder, factory)
    with pytest.raises(FileNotFoundError, match="checkpoint metadata not found"):
        read_meta(folder)


def test_missing_weights_file(saved):
    folder, _ = saved
    (folder / WEIGHTS_FILE).unlink()
    with pytest.raises(FileNotFoundError, match=r"checkpoint weights not found: .*model\.safetensors"):
        load_checkpoint(folder, factory)


def test_corrupt_json(saved):
    folder, _ = saved
    (folder / META_FILE).write_text('{"format": "spatialrep-checkpoint", ')
    with pytest.raises(ValueError, match="is not valid JSON"):
        load_checkpoint(folder, factory)


@pytest.mark.parametrize("content", ['{"format": "something-else"}', "[1, 2]"])
def test_json_of_another_format(saved, content):
    folder, _ = saved
    (folder / META_FILE).write_text(content)
    with pytest.raises(ValueError, match="is not a spatialrep-checkpoint file"):
        read_meta(folder)


def edit_meta(folder: Path, **changes: object) -> None:
    meta = json.loads((folder / META_FILE).read_text())
    for key, value in changes.items():
        if value is None:
            del meta[key]
        else:
            meta[key] = value
    (folder / META_FILE).write_text(json.dumps(meta))


def test_missing_fields_are_named(saved):
    folder, _ = saved
    edit_meta(folder, model_kwargs=None, versions=None)
    with pytest.raises(ValueError, match=r"lacks field\(s\) model_kwargs, versions"):
        load_checkpoint(folder, factory)


def test_model_kwargs_must_be_an_object(saved):
    folder, _ = saved
    edit_meta(folder, model_kwargs=[4, 3])
    with pytest.raises(ValueError, match="model_kwargs must be an object"):
        read_meta(folder)


def test_checksum_mismatch_after_editing_the_weights(saved):
    folder, _ = saved
    tensors = safetensors.torch.load_file(str(folder / WEIGHTS_FILE))
    tensors["encoder.bias"] = tensors["encoder.bias"] + 1.0  # still a valid file, other content
    safetensors.torch.save_file(tensors, str(folder / WEIGHTS_FILE))
    with pytest.raises(ValueError, match=r"does not match the checksum in model\.json"):
        load_checkpoint(folder, factory)


def test_unreadable_weights_without_checksum(saved):
    folder, _ = saved
    (folder / WEIGHTS_FILE).write_bytes(b"not a safetensors file")
    edit_meta(folder, weights_sha256=None)
    with pytest.raises(ValueError, match="cannot be read"):
        load_checkpoint(folder, factory)


def test_missing_and_unexpected_tensor_names(tmp_path):
    net = TinyNet()
    tensors = {k: v.clone() for k, v in net.state_dict().items()}
    del tensors["encoder.bias"]
    tensors["extra.weight"] = torch.zeros(2)
    save_checkpoint(tmp_path, nn.ParameterDict(), model_name="tiny", model_kwargs=KWARGS)
    safetensors.torch.save_file(tensors, str(tmp_path / WEIGHTS_FILE))
    edit_meta(tmp_path, weights_sha256=None)
    with pytest.raises(
        ValueError,
        match=r"does not fit model 'tiny': missing tensor\(s\) \[encoder\.bias\], "
        r"unexpected tensor\(s\) \[extra\.weight\]",
    ):
        load_checkpoint(tmp_path, factory)


def test_shape_mismatch_is_named(tmp_path):
    save_checkpoint(tmp_path, TinyNet(in_dim=4, hidden=5), model_name="tiny", model_kwargs=KWARGS)
    with pytest.raises(
        ValueError, match=r"wrong shape: encoder\.weight: checkpoint \(5, 4\) vs model \(3, 4\)"
    ):
        load_checkpoint(tmp_path, factory)


def test_unknown_registry_name_lists_known(saved):
    folder, _ = saved
    with pytest.raises(KeyError, match=r"'tiny' is not in the registry; known: a, b"):
        load_checkpoint(folder, {"b": TinyNet, "a": TinyNet})


def test_factory_must_return_a_module(saved):
    folder, _ = saved
    with pytest.raises(TypeError, match="factory returned dict for 'tiny'"):
        load_checkpoint(folder, lambda name, **kw: dict(kw))


def test_an_edited_model_json_cannot_request_a_huge_model(tmp_path):
    """model.json's arguments are checked on the meta device against the stored tensors: no allocation."""
    import json

    from spatialrep.train import register_model, registered_models

    if "test_huge_linear" not in registered_models():

        @register_model("test_huge_linear")
        class Huge(nn.Module):
            def __init__(self, width: int) -> None:
                super().__init__()
                self.linear = nn.Linear(width, width)

    model = registered_models()["test_huge_linear"](width=4)
    save_checkpoint(tmp_path / "m", model, model_name="test_huge_linear", model_kwargs={"width": 4})
    meta_path = tmp_path / "m" / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["model_kwargs"]["width"] = 1_000_000  # 10^12 weights: 4 TB if it were allocated
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(
        ValueError, match=r"wrong shape: linear.weight: checkpoint \(4, 4\) vs model \(1000000, 1000000\)"
    ):
        load_checkpoint(tmp_path / "m")
