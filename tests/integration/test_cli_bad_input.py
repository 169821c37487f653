"""Each bad simulator input named in the foundation issue gives one clear line on stderr and exit status 2.

Runs the CLI in-process (``main([...])``) for speed; ``test_simulate_cli.py`` covers the real subprocess.
"""

import numpy as np
import pytest
import soundfile as sf

from spatialrep.cli.main import main


def _simulate(tmp_path, *overrides):
    args = ["simulate", "--preset", "binaural-speech-tiny", "--out", str(tmp_path / "out"), "--num", "1"]
    for item in overrides:
        args += ["--set", item]
    return main([*args, "--workers", "1", "--quiet"])


def _one_error_line(capsys, *fragments):
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("spatialrep: error:")]
    assert len(errors) == 1, err
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def test_missing_sofa_file(tmp_path, capsys):
    assert _simulate(tmp_path, f"scene.receiver={tmp_path / 'absent.sofa'}") == 2
    _one_error_line(capsys, "absent.sofa")


def test_malformed_sofa_file(tmp_path, capsys):
    bad = tmp_path / "broken.sofa"
    bad.write_bytes(np.random.default_rng(0).bytes(2048))
    assert _simulate(tmp_path, f"scene.receiver={bad}") == 2
    _one_error_line(capsys, "broken.sofa")


def test_sofa_of_another_convention(tmp_path, capsys):
    import sofar

    other = sofar.Sofa("GeneralFIR")
    path = tmp_path / "fir.sofa"
    sofar.write_sofa(str(path), other)
    assert _simulate(tmp_path, f"scene.receiver={path}") == 2
    _one_error_line(capsys, "fir.sofa", "SimpleFreeFieldHRIR")


def test_audio_folder_with_a_corrupt_file(tmp_path, capsys):
    folder = tmp_path / "clips" / "dog"
    folder.mkdir(parents=True)
    sf.write(folder / "good.wav", 0.1 * np.random.default_rng(0).standard_normal(8000), 16000)
    (folder / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    assert _simulate(tmp_path, f"scene.source=folder:{tmp_path / 'clips'}") == 2
    _one_error_line(capsys, "corrupt.wav")


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("scene.rt60_range_s=[-0.3, 0.5]", "rt60_range_s"),
        ("scene.snr_range_db=[.nan, 10]", "snr_range_db"),
        ("scene.azimuth_range_deg=[40, -40]", "azimuth_range_deg"),
        ("scene.distance_range_m=[12, 14]", "does not fit in room"),
        ("scene.sample_rate=44.1", "sample_rate"),
        ("scene.receiver=bogus", "unknown receiver"),
    ],
)
def test_invalid_config_values(tmp_path, capsys, override, fragment):
    overrides = [override]
    if "azimuth" in override:
        overrides.append("scene.region=custom")
    assert _simulate(tmp_path, *overrides) == 2
    _one_error_line(capsys, fragment)
