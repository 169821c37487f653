import math
from dataclasses import dataclass

import pytest

from spatialrep.config import ConfigError, load_config, parse_overrides, save_config, to_dict
from spatialrep.simulate.scene_config import SceneConfig


@dataclass(frozen=True)
class Inner:
    rate: float = 1.0
    pair: tuple[int, int] = (1, 2)


@dataclass(frozen=True)
class Outer:
    name: str = "x"
    inner: Inner = Inner()
    names: tuple[str, ...] = ()
    maybe: float | None = None


def test_load_config_defaults_yaml_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: y\ninner:\n  rate: 2\n")
    cfg = load_config(Outer, path, ["inner.pair=[3, 4]", "names=[a, b]", "maybe=0.5"])
    assert cfg == Outer(name="y", inner=Inner(rate=2.0, pair=(3, 4)), names=("a", "b"), maybe=0.5)
    assert isinstance(cfg.inner.rate, float)


def test_save_and_reload_roundtrip(tmp_path):
    cfg = Outer(name="z", inner=Inner(3.0, (5, 6)), names=("q",))
    save_config(cfg, tmp_path / "resolved.yaml")
    assert load_config(Outer, tmp_path / "resolved.yaml") == cfg
    assert to_dict(cfg)["inner"]["pair"] == [5, 6]


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (["nme=1"], "unknown key.*nme.*valid: inner, maybe, name, names"),
        (["inner.rate=fast"], "inner.rate: expected a number"),
        (["inner.pair=[1, 2, 3]"], "expected 2 values"),
        (["novalue"], "key=value"),
    ],
)
def test_bad_overrides_name_the_culprit(overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_config(Outer, None, overrides)


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(Outer, tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(Outer, bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(Outer, listy)
    empty = tmp_path / "empty.yaml"
    empty.write_text("# only a comment\n")
    with pytest.raises(ConfigError, match=r"empty\.yaml is empty"):
        load_config(Outer, empty)


def test_parse_overrides_nests():
    assert parse_overrides(["a.b=1", "a.c=x", "d=[1, 2]"]) == {"a": {"b": 1, "c": "x"}, "d": [1, 2]}


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("rt60_range_s=[-0.5, 0.3]", "rt60_range_s must be positive"),
        ("snr_range_db=[.nan, 10]", "snr_range_db.*finite"),
        ("azimuth_range_deg=[30, -30]", "azimuth_range_deg is empty"),
        ("distance_range_m=[0, 2]", "distance_range_m must be positive"),
        ("region=everywhere", "unknown region 'everywhere'; valid: frontal, horizontal, sphere, custom"),
        ("brir_mode=fast", "unknown brir_mode"),
        ("room=cave", "unknown room 'cave'"),
        ("duration_s=0", "duration_s must be a positive"),
        ("num_sources=[0, 1]", "num_sources"),
        ("sample_rate=100", "sample_rate"),
        ("noise_types=[]", "noise_types"),
    ],
)
def test_scene_config_rejects_invalid_values(override, match):
    with pytest.raises(ConfigError, match=match):
        load_config(SceneConfig, None, [override])


def test_scene_config_regions():
    assert SceneConfig().direction_ranges_deg == ((-90.0, 90.0), (0.0, 0.0))
    assert SceneConfig(region="sphere").direction_ranges_deg[1] == (-90.0, 90.0)
    custom = SceneConfig(region="custom", azimuth_range_deg=(-30.0, 30.0), elevation_range_deg=(-10.0, 10.0))
    assert custom.direction_ranges_deg == ((-30.0, 30.0), (-10.0, 10.0))
    assert SceneConfig(duration_s=0.5, sample_rate=16000).num_samples == 8000
    assert math.isfinite(SceneConfig().snr_range_db[0])


def test_optional_field_error_keeps_the_inner_reason():
    with pytest.raises(ConfigError, match=r"maybe.*expected a number"):
        load_config(Outer, None, ["maybe=fast"])
