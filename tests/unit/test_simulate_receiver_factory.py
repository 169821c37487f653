from pathlib import Path

import numpy as np
import pytest
import sofar

from spatialrep.io.sofa import SofaError
from spatialrep.simulate.hrtf import HRTFSet
from spatialrep.simulate.receiver_factory import list_receivers, make_receiver
from spatialrep.simulate.receivers import FreeFieldArray, Receiver
from spatialrep.simulate.spherical_head import SphericalHead

KEMAR = Path(__file__).parents[2] / "src" / "spatialrep" / "_data" / "MIT_KEMAR_normal_pinna.sofa"


def test_list_receivers():
    assert list_receivers() == ["kemar", "sphere", "array:circular4", "array:pair", "array:tetrahedral"]


@pytest.mark.parametrize("spec", list_receivers())
def test_every_listed_receiver_builds(spec):
    receiver = make_receiver(spec, 16000)
    assert isinstance(receiver, Receiver)
    assert receiver.sample_rate == 16000
    irs = receiver.impulse_responses(np.deg2rad([0.0, 90.0]), np.zeros(2))
    assert irs.shape[:2] == (2, receiver.num_channels)
    assert 0 <= receiver.onset < irs.shape[-1]
    assert 0 < receiver.max_delay < 2e-3
    if receiver.kind == "binaural":
        energy = np.sum(irs[1] ** 2, axis=-1)
        assert receiver.num_channels == 2 and energy[0] > energy[1]  # +90°: left ear louder


def test_kinds_and_names():
    kemar = make_receiver("kemar", 16000)
    assert isinstance(kemar, HRTFSet) and kemar.name == "mit_kemar_normal_pinna"
    assert kemar.interpolation == "nearest"
    smooth = make_receiver("kemar:interpolation=interpolated", 16000)
    assert isinstance(smooth, HRTFSet) and smooth.interpolation == "interpolated"
    sphere = make_receiver("sphere:radius=0.09", 48000)
    assert isinstance(sphere, SphericalHead) and sphere.head_radius == 0.09 and sphere.sample_rate == 48000
    assert sphere.name == "sphere:radius=0.09"
    assert make_receiver(sphere.name, 48000).name == sphere.name
    array = make_receiver("array:tetrahedral", 16000)
    assert isinstance(array, FreeFieldArray) and array.kind == "array" and array.num_channels == 4


def test_sofa_paths(tmp_path):
    receiver = make_receiver(str(KEMAR), 22050)
    assert isinstance(receiver, HRTFSet) and receiver.sample_rate == 22050 and receiver.num_directions == 710
    sofa = sofar.Sofa("SimpleFreeFieldHRIR")
    sofa.Data_IR = np.random.default_rng(0).standard_normal((6, 2, 64))
    sofa.SourcePosition = np.array(
        [[az, el, 1.0] for az, el in [(0, 0), (90, 0), (180, 0), (270, 0), (0, 90), (0, -90)]]
    )
    sofa.Data_SamplingRate = 16000
    sofa.GLOBAL_ListenerShortName = "Tiny"
    path = tmp_path / "tiny.SOFA.sofa"
    sofar.write_sofa(str(path), sofa)
    tiny = make_receiver(str(path), 16000)
    assert isinstance(tiny, HRTFSet) and tiny.name == "tiny" and tiny.num_directions == 6
    with pytest.raises(SofaError, match=r"not found: .*missing\.sofa"):
        make_receiver(str(tmp_path / "missing.sofa"), 16000)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("dummy_head", r"unknown receiver 'dummy_head'; valid: kemar, sphere, array:circular4"),
        ("array", r"unknown receiver 'array'.*\.sofa file"),
        ("array:hexagon", r"unknown array preset 'hexagon'; valid: circular4, pair, tetrahedral"),
        ("sphere:diameter=0.2", r"valid keys: radius, left_azimuth"),
        ("sphere:radius=-1", r"head_radius"),
        ("kemar:interpolation=cubic", r"bad kemar option.*interpolation=<nearest\|interpolated>"),
        ("kemar:smooth", r"bad kemar option"),
    ],
)
def test_bad_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        make_receiver(spec, 16000)


def test_packaged_sofa_heads_load_without_importing_their_package() -> None:
    import sys

    receiver = make_receiver("sofa:spatialaudiometrics/example_sofa_1.sofa", 16000)
    assert receiver.sample_rate == 16000 and 0.6e-3 < receiver.max_delay < 0.9e-3
    assert "spatialaudiometrics" not in sys.modules  # data only: its code (and dependencies) never runs
    with pytest.raises(ValueError, match="not installed"):
        make_receiver("sofa:no_such_package_xyz/head.sofa", 16000)
    with pytest.raises(
        ValueError, match=r"no head_9\.sofa in package 'spatialaudiometrics'; it has: example"
    ):
        make_receiver("sofa:spatialaudiometrics/head_9.sofa", 16000)
    with pytest.raises(ValueError, match="bad packaged SOFA reference"):
        make_receiver("sofa:spatialaudiometrics", 16000)
