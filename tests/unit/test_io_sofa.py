from pathlib import Path

import netCDF4
import numpy as np
import pytest
import sofar

from spatialrep.io.sofa import HRIRData, SofaError, read_sofa

KEMAR = Path(__file__).parents[2] / "src" / "spatialrep" / "_data" / "MIT_KEMAR_normal_pinna.sofa"

# SOFA degrees (azimuth counter-clockwise from the front) and what they mean in radians, wrapped to (-pi, pi].
SOFA_AZIMUTH_DEG = np.array([0.0, 90.0, 180.0, 270.0])
EXPECTED_AZIMUTH = np.array([0.0, np.pi / 2, np.pi, -np.pi / 2])


def _hrir_sofa(convention: str = "SimpleFreeFieldHRIR", receivers: int = 2) -> sofar.Sofa:
    sofa = sofar.Sofa(convention)
    sofa.Data_IR = np.random.default_rng(0).standard_normal((4, receivers, 32))
    sofa.SourcePosition = np.column_stack([SOFA_AZIMUTH_DEG, [0.0, 10.0, -20.0, 30.0], np.full(4, 1.5)])
    sofa.Data_SamplingRate = 48000
    if receivers != 2:
        sofa.ReceiverPosition = np.zeros((receivers, 3, 1))
        sofa.Data_Delay = np.zeros((1, receivers))
    return sofa


def _write(tmp_path: Path, name: str, sofa: sofar.Sofa) -> Path:
    path = tmp_path / name
    sofar.write_sofa(str(path), sofa)
    return path


def test_reads_mit_kemar():
    data = read_sofa(KEMAR)
    assert data.name == "mit_kemar_normal_pinna"
    assert data.convention == "SimpleFreeFieldHRIR"
    assert data.sample_rate == 44100
    assert data.hrirs.shape == (710, 2, 512) and data.hrirs.dtype == np.float64
    assert data.num_directions == 710 and data.taps == 512
    np.testing.assert_allclose(data.distance, 1.4)
    assert np.all(data.azimuth > -np.pi) and np.all(data.azimuth <= np.pi)
    assert np.degrees(data.elevation.min()) == pytest.approx(-40.0)
    assert np.degrees(data.elevation.max()) == pytest.approx(90.0)
    # SOFA 270° (right) becomes -90°; the right ear hears it louder. Channel 0 is the left ear.
    right = np.flatnonzero(np.isclose(data.azimuth, -np.pi / 2) & np.isclose(data.elevation, 0.0))
    left = np.flatnonzero(np.isclose(data.azimuth, np.pi / 2) & np.isclose(data.elevation, 0.0))
    assert right.size == left.size == 1
    energy = np.sum(data.hrirs**2, axis=-1)
    assert energy[left[0], 0] > 10 * energy[left[0], 1]
    assert energy[right[0], 1] > 10 * energy[right[0], 0]
    assert not data.hrirs.flags.writeable


def test_spherical_degrees_become_wrapped_radians(tmp_path):
    sofa = _hrir_sofa()
    sofa.GLOBAL_DatabaseName = "Test DB"
    sofa.GLOBAL_ListenerShortName = "Subject 7"
    data = read_sofa(_write(tmp_path, "deg.sofa", sofa))
    np.testing.assert_allclose(data.azimuth, EXPECTED_AZIMUTH, atol=1e-12)
    np.testing.assert_allclose(np.degrees(data.elevation), [0.0, 10.0, -20.0, 30.0])
    np.testing.assert_allclose(data.distance, 1.5)
    np.testing.assert_array_equal(data.hrirs, sofa.Data_IR)
    assert data.name == "test_db_subject_7"


def test_name_falls_back_to_file_stem(tmp_path):
    assert read_sofa(_write(tmp_path, "My Head-01.sofa", _hrir_sofa())).name == "my_head_01"


def test_cartesian_positions_are_converted(tmp_path):
    sofa = _hrir_sofa()
    sofa.SourcePosition = np.array([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 1.0], [0.0, -3.0, 0.0]])
    sofa.SourcePosition_Type = "cartesian"
    sofa.SourcePosition_Units = "metre"
    data = read_sofa(_write(tmp_path, "cart.sofa", sofa))
    np.testing.assert_allclose(data.azimuth, EXPECTED_AZIMUTH, atol=1e-12)
    np.testing.assert_allclose(np.degrees(data.elevation), [0.0, 0.0, 45.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(data.distance, [2.0, 1.0, np.sqrt(2.0), 3.0])


def test_integer_delays_are_applied(tmp_path):
    sofa = _hrir_sofa()
    sofa.Data_Delay = np.array([[3.0, 5.0]])
    data = read_sofa(_write(tmp_path, "delay.sofa", sofa))
    assert data.taps == 32 + 5
    np.testing.assert_array_equal(data.hrirs[:, 0, 3:35], sofa.Data_IR[:, 0])
    np.testing.assert_array_equal(data.hrirs[:, 1, 5:], sofa.Data_IR[:, 1])
    assert not np.any(data.hrirs[:, 0, :3]) and not np.any(data.hrirs[:, 1, :5])


def test_missing_file(tmp_path):
    with pytest.raises(SofaError, match=r"not found: .*absent\.sofa"):
        read_sofa(tmp_path / "absent.sofa")


def test_corrupt_file(tmp_path):
    path = tmp_path / "corrupt.sofa"
    path.write_bytes(np.random.default_rng(1).bytes(4096))
    with pytest.raises(SofaError, match=r"corrupt\.sofa: not a SOFA"):
        read_sofa(path)


def test_netcdf_without_sofa_attributes(tmp_path):
    path = tmp_path / "plain.sofa"
    with netCDF4.Dataset(str(path), "w") as nc:
        nc.createDimension("x", 3)
        nc.createVariable("v", "f8", ("x",))[:] = [1.0, 2.0, 3.0]
    with pytest.raises(SofaError, match=r"plain\.sofa: not a SOFA file"):
        read_sofa(path)


def test_wrong_extension(tmp_path):
    path = _write(tmp_path, "head.sofa", _hrir_sofa()).rename(tmp_path / "head.nc")
    with pytest.raises(SofaError, match=r"head\.nc: .*extension"):
        read_sofa(path)


@pytest.mark.parametrize("convention", ["GeneralFIR", "SimpleFreeFieldHRTF"])
def test_other_conventions_are_refused(tmp_path, convention):
    sofa = sofar.Sofa(convention)
    if convention == "GeneralFIR":
        sofa.Data_IR = np.zeros((4, 2, 32))
        sofa.SourcePosition = np.zeros((4, 3))
        sofa.Data_Delay = np.zeros((1, 2))
    path = _write(tmp_path, f"{convention}.sofa", sofa)
    with pytest.raises(
        SofaError, match=rf"{convention}\.sofa: .*'{convention}'.*expected 'SimpleFreeFieldHRIR'"
    ):
        read_sofa(path)


def test_three_receivers_are_refused(tmp_path):
    path = _write(tmp_path, "three.sofa", _hrir_sofa(receivers=3))
    with pytest.raises(SofaError, match=r"three\.sofa: Data.IR has 3 receivers"):
        read_sofa(path)


def test_mismatched_source_positions(tmp_path):
    sofa = _hrir_sofa()
    sofa.SourcePosition = np.array([[0.0, 0.0, 1.5]])  # one position for four measurements
    with pytest.raises(SofaError, match=r"mismatch.sofa: SourcePosition has shape \(1, 3\).*4 measurements"):
        read_sofa(_write(tmp_path, "mismatch.sofa", sofa))


def test_nan_data(tmp_path):
    sofa = _hrir_sofa()
    ir = sofa.Data_IR.copy()
    ir[2, 1, 7] = np.nan
    sofa.Data_IR = ir
    with pytest.raises(SofaError, match=r"nan\.sofa: Data.IR contains NaN"):
        read_sofa(_write(tmp_path, "nan.sofa", sofa))


def test_spherical_positions_in_radians_are_refused(tmp_path):
    path = _write(tmp_path, "radians.sofa", _hrir_sofa())
    with netCDF4.Dataset(str(path), "a") as nc:  # sofar refuses to write this, other writers may not
        nc["SourcePosition"].Units = "radian, radian, metre"
    with pytest.raises(
        SofaError, match=r"radians\.sofa: spherical SourcePosition must be in 'degree, degree"
    ):
        read_sofa(path)


def test_unsupported_position_type(tmp_path):
    path = _write(tmp_path, "type.sofa", _hrir_sofa())
    with netCDF4.Dataset(str(path), "a") as nc:
        nc["SourcePosition"].Type = "polar"
    with pytest.raises(SofaError, match=r"type\.sofa: SourcePosition type 'polar' is not supported"):
        read_sofa(path)


def test_rotated_listener_is_refused(tmp_path):
    sofa = _hrir_sofa()
    sofa.ListenerView = np.array([[0.0, 1.0, 0.0]])
    with pytest.raises(SofaError, match=r"view\.sofa: ListenerView .* not supported"):
        read_sofa(_write(tmp_path, "view.sofa", sofa))


def test_fractional_delay_is_refused(tmp_path):
    sofa = _hrir_sofa()
    sofa.Data_Delay = np.array([[0.5, 0.0]])
    with pytest.raises(SofaError, match=r"frac\.sofa: Data.Delay must hold .*whole numbers"):
        read_sofa(_write(tmp_path, "frac.sofa", sofa))


def test_sofa_error_is_a_value_error():
    assert issubclass(SofaError, ValueError)


def test_hrir_data_validates():
    good = {
        "name": "x",
        "sample_rate": 16000,
        "azimuth": np.zeros(3),
        "elevation": np.zeros(3),
        "distance": np.ones(3),
        "hrirs": np.zeros((3, 2, 8)),
    }
    data = HRIRData(**good)
    assert data.taps == 8 and data.num_directions == 3
    np.testing.assert_allclose(HRIRData(**{**good, "azimuth": np.full(3, -np.pi)}).azimuth, np.pi)
    for key, value, match in [
        ("hrirs", np.zeros((3, 3, 8)), "shape"),
        ("azimuth", np.zeros(2), "azimuth must have shape"),
        ("elevation", np.array([0.0, np.nan, 0.0]), "elevation contains NaN"),
        ("elevation", np.array([0.0, 2.0, 0.0]), r"\[-pi/2, pi/2\]"),
        ("distance", np.zeros(3), "distance must be positive"),
        ("sample_rate", 0, "sample_rate"),
    ]:
        with pytest.raises(ValueError, match=match):
            HRIRData(**{**good, key: value})
