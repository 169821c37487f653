import os
import stat

import numpy as np
import pytest

from spatialrep.io.atomic import atomic_path, atomic_write_text
from spatialrep.io.audio import AudioFileError, read_audio, write_audio


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_atomic_write_has_umask_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644


def test_audio_roundtrip_and_errors(tmp_path):
    x = 0.1 * np.random.default_rng(0).standard_normal((2, 1600))
    write_audio(tmp_path / "x.flac", x, 16000)
    y, rate = read_audio(tmp_path / "x.flac", expected_channels=2, expected_sample_rate=16000)
    assert rate == 16000 and np.max(np.abs(x - y)) < 1e-6
    with pytest.raises(AudioFileError, match="has 2 channels, expected 4"):
        read_audio(tmp_path / "x.flac", expected_channels=4)
    with pytest.raises(AudioFileError, match="sample rate 16000 Hz, expected 48000"):
        read_audio(tmp_path / "x.flac", expected_sample_rate=48000)
    with pytest.raises(AudioFileError, match="not found"):
        read_audio(tmp_path / "missing.wav")
    (tmp_path / "folder.wav").mkdir()
    with pytest.raises(AudioFileError, match=r"folder\.wav is a folder, not an audio file"):
        read_audio(tmp_path / "folder.wav")
    (tmp_path / "bad.wav").write_bytes(b"RIFF0000garbage")
    with pytest.raises(AudioFileError, match="cannot read"):
        read_audio(tmp_path / "bad.wav")
    write_audio(tmp_path / "silent.wav", np.zeros(100), 16000)
    with pytest.raises(AudioFileError, match="silent"):
        read_audio(tmp_path / "silent.wav", allow_silence=False)
    with pytest.raises(ValueError, match="non-finite"):
        write_audio(tmp_path / "nan.wav", np.full(10, np.nan), 16000)
    assert not (tmp_path / "nan.wav").exists()


def test_save_figure_is_atomic_picks_the_format_and_closes(tmp_path):
    from spatialrep.io.figures import pyplot, save_figure

    plt = pyplot()
    for name, magic in (("a.png", b"\x89PNG"), ("b.svg", b"<?xml"), ("c", b"\x89PNG")):
        fig = plt.figure()
        path = save_figure(fig, tmp_path / name)
        assert path.read_bytes().startswith(magic), name
        assert not plt.fignum_exists(fig.number)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.svg", "c"]
