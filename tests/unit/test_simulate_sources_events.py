import pickle

import numpy as np
import pytest

from spatialrep.dsp import rms
from spatialrep.simulate.sources import (
    EVENT_CLASSES,
    PROCEDURAL_UNITS,
    TARGET_RMS,
    CombinedBank,
    MidiEvents,
    ProceduralEvents,
    SourceBank,
    make_source_bank,
    render_notes,
)
from spatialrep.simulate.sources.events import RENDER_RATE, _sounding_keys, default_soundfont


def active_fraction(x: np.ndarray, rate: int, frame_s: float = 0.05) -> float:
    """Fraction of frames within 40 dB of the clip's RMS."""
    n = round(frame_s * rate)
    frames = x[: x.size // n * n].reshape(-1, n)
    return float(np.mean(np.sqrt(np.mean(frames**2, axis=1)) > TARGET_RMS * 10 ** (-40 / 20)))


def centroid_hz(x: np.ndarray, rate: int) -> float:
    power = np.abs(np.fft.rfft(x)) ** 2
    return float(np.sum(power * np.fft.rfftfreq(x.size, 1 / rate)) / np.sum(power))


@pytest.fixture(scope="module")
def midi() -> MidiEvents:
    return MidiEvents()


def test_classes_and_units(midi):
    assert len(midi.classes) >= 10
    assert midi.classes == tuple(sorted(EVENT_CLASSES))
    assert isinstance(midi, SourceBank)
    assert midi.units("piano") == ("piano:gm000", "piano:gm001", "piano:gm002", "piano:gm003")
    assert "drums:kit000" in midi.units("drums")
    assert len(midi.units()) == sum(len(style.programs) for style in EVENT_CLASSES.values())
    with pytest.raises(ValueError, match="unknown class 'kazoo'; valid classes: applause, bass"):
        midi.units("kazoo")


def test_every_program_of_every_class_sounds_throughout(midi):
    for k, unit in enumerate(midi.units()):
        clip = midi.partition([unit]).sample(np.random.default_rng(k), 2.0, 16000)
        assert clip.unit == unit and clip.label == unit.split(":")[0]
        assert clip.signal.shape == (32000,)
        assert np.all(np.isfinite(clip.signal))
        assert rms(clip.signal) == pytest.approx(TARGET_RMS, rel=1e-9)
        # Phrases fill the clip: even the sparsest classes (drum kits, rings, shots) sound a quarter of it.
        assert active_fraction(clip.signal, 16000) >= 0.25, unit
        assert clip.metadata["num_notes"] >= 1 and clip.metadata["preset"] not in ("None", "")


def test_silent_keys_of_a_preset_are_never_played(midi):
    # TimGM6mb's alto sax (program 65) has no sample on key 64: the probe finds and drops it.
    keys = _sounding_keys(midi.soundfont, 65, False, tuple(range(49, 81)))
    assert 64 not in keys and 63 in keys and 65 in keys
    for key in keys:
        audio = render_notes([(0.0, 0.1, key, 100)], 65, duration_s=0.1)
        assert rms(audio) > 1e-4
    bank = midi.partition(["saxophone:gm065"])
    played = set()
    for seed in range(20):
        clip = bank.sample(np.random.default_rng(seed), 1.0, 8000)
        lo, hi = clip.metadata["keys"]
        played.update(range(lo, hi + 1))
    assert played  # the walk covered part of the range
    with pytest.raises(ValueError, match="is silent for keys"):
        _sounding_keys(midi.soundfont, 0, True, (0, 1, 2))  # no drum sounds below key 27


def test_determinism_and_seed_sensitivity(midi):
    a = midi.sample(np.random.default_rng(42), 1.5, 16000)
    midi.sample(np.random.default_rng(7), 0.5, 22050)
    b = midi.sample(np.random.default_rng(42), 1.5, 16000)
    np.testing.assert_array_equal(a.signal, b.signal)
    assert a.source_id == b.source_id
    c = midi.sample(np.random.default_rng(43), 1.5, 16000)
    assert not np.array_equal(a.signal, c.signal)


@pytest.mark.parametrize(("duration", "rate"), [(0.01, 16000), (1.0, 8000), (0.3333, 44100), (1.25, 48000)])
def test_exact_length_at_any_rate(midi, duration, rate):
    for label in ("piano", "drums", "helicopter"):
        clip = midi.sample(np.random.default_rng(0), duration, rate, label=label)
        assert clip.signal.shape == (round(duration * rate),)
        assert clip.label == label
        assert rms(clip.signal) == pytest.approx(TARGET_RMS)


def test_classes_are_acoustically_distinct(midi):
    def median_centroid(label: str) -> float:
        return float(
            np.median(
                [
                    centroid_hz(midi.sample(np.random.default_rng(s), 1.0, 16000, label=label).signal, 16000)
                    for s in range(4)
                ]
            )
        )

    bass, flute, bird, telephone = (median_centroid(c) for c in ("bass", "flute", "bird", "telephone"))
    assert bass < 400 < flute < bird
    assert telephone > 2 * flute


def test_helicopter_preroll_skips_the_slow_attack(midi):
    clip = midi.sample(np.random.default_rng(0), 2.0, 16000, label="helicopter")
    first, last = rms(clip.signal[:4000]), rms(clip.signal[-4000:])
    assert first > 0.5 * last  # without the pre-roll the first quarter second is 20 dB down


def test_partition_keeps_programs_disjoint_and_drops_empty_classes(midi):
    train = midi.partition(["piano:gm000", "piano:gm001", "bird:gm123"])
    test = midi.partition(["piano:gm002"])
    assert train.classes == ("bird", "piano") and test.classes == ("piano",)
    assert {train.sample(np.random.default_rng(s), 0.2, 8000).unit for s in range(10)} <= set(train.units())
    assert all(test.sample(np.random.default_rng(s), 0.2, 8000).unit == "piano:gm002" for s in range(3))
    with pytest.raises(ValueError, match="unknown class 'bird'"):
        test.sample(np.random.default_rng(0), 0.2, 8000, label="bird")
    with pytest.raises(ValueError, match=r"unknown unit\(s\) \['piano:gm099'\]"):
        midi.partition(["piano:gm099"])
    assert len(midi.units()) == 52  # untouched


def test_constructor_guards(tmp_path):
    assert MidiEvents(classes=["piano", "drums"]).classes == ("drums", "piano")
    with pytest.raises(ValueError, match="unknown event classes \\['kazoo'\\]; valid: applause"):
        MidiEvents(classes=["kazoo"])
    with pytest.raises(TypeError, match="not the string"):
        MidiEvents(classes="piano")
    with pytest.raises(ValueError, match="soundfont not found"):
        MidiEvents(soundfont=tmp_path / "missing.sf2")
    bad = tmp_path / "bad.sf2"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ValueError, match="cannot load soundfont"):
        MidiEvents(soundfont=bad)


def test_render_notes_places_notes_in_time():
    audio = render_notes([(0.5, 0.7, 60, 100)], 0, duration_s=1.0, soundfont=default_soundfont())
    assert audio.shape == (RENDER_RATE,)
    assert rms(audio[: RENDER_RATE // 2 - 10]) == 0.0
    assert rms(audio[RENDER_RATE // 2 : RENDER_RATE // 2 + 4410]) > 1e-3


def test_banks_pickle_for_worker_processes(midi):
    clone = pickle.loads(pickle.dumps(midi))
    np.testing.assert_array_equal(
        clone.sample(np.random.default_rng(3), 0.5, 16000).signal,
        midi.sample(np.random.default_rng(3), 0.5, 16000).signal,
    )


# --- procedural events ---------------------------------------------------------------------------------


def test_procedural_units_sound_at_every_rate_and_length():
    bank = ProceduralEvents()
    assert bank.classes == ("alarm", "footsteps", "knock")
    assert bank.units() == tuple(sorted(PROCEDURAL_UNITS))
    for unit in bank.units():
        single = bank.partition([unit])
        for duration, rate in [(0.05, 8000), (2.0, 16000), (1.0, 48000)]:
            clip = single.sample(np.random.default_rng(1), duration, rate)
            assert clip.signal.shape == (round(duration * rate),)
            assert rms(clip.signal) == pytest.approx(TARGET_RMS)
            assert clip.unit == unit and clip.label == unit.split(":")[0]
        assert active_fraction(clip.signal, 48000) >= 0.25, unit


def test_procedural_is_deterministic():
    bank = ProceduralEvents()
    a = bank.sample(np.random.default_rng(9), 1.0, 16000)
    b = bank.sample(np.random.default_rng(9), 1.0, 16000)
    np.testing.assert_array_equal(a.signal, b.signal)
    assert a.source_id == b.source_id
    assert not np.array_equal(a.signal, bank.sample(np.random.default_rng(10), 1.0, 16000).signal)


def test_alarm_beep_sounds_at_its_frequency_without_aliasing():
    for rate in (16000, 8000):
        clip = ProceduralEvents(units=["alarm:beep"]).sample(np.random.default_rng(4), 2.0, rate)
        spectrum = np.abs(np.fft.rfft(clip.signal))
        peak = np.fft.rfftfreq(clip.signal.size, 1 / rate)[np.argmax(spectrum)]
        f0 = clip.metadata["frequency_hz"]
        assert f0 <= 0.4 * rate
        assert peak == pytest.approx(f0, abs=2.0)


def test_procedural_guards():
    with pytest.raises(ValueError, match="unknown procedural classes \\['siren'\\]; valid: alarm, footsteps"):
        ProceduralEvents(classes=["siren"])
    with pytest.raises(ValueError, match=r"unknown unit\(s\)"):
        ProceduralEvents(classes=["alarm"], units=["knock:door"])


# --- combined ------------------------------------------------------------------------------------------


def test_combined_bank_routes_classes_and_partitions(midi):
    bank = CombinedBank([midi.partition(["piano:gm000", "bird:gm123"]), ProceduralEvents(classes=["alarm"])])
    assert bank.classes == ("alarm", "bird", "piano")
    assert bank.units("alarm") == ("alarm:beep", "alarm:siren", "alarm:two-tone")
    assert bank.sample(np.random.default_rng(0), 0.5, 16000, label="alarm").label == "alarm"
    labels = {bank.sample(np.random.default_rng(s), 0.2, 8000).label for s in range(30)}
    assert labels == {"alarm", "bird", "piano"}
    part = bank.partition(["alarm:siren"])
    assert part.classes == ("alarm",) and len(part.banks) == 1
    with pytest.raises(ValueError, match="unknown class 'piano'"):
        part.sample(np.random.default_rng(0), 0.5, 16000, label="piano")


def test_combined_bank_rejects_overlaps(midi):
    with pytest.raises(ValueError, match="class 'piano' is in both"):
        CombinedBank([midi.partition(["piano:gm000"]), midi.partition(["piano:gm001"])])
    with pytest.raises(ValueError, match="at least one bank"):
        CombinedBank([])


def test_events_spec_combines_midi_and_procedural():
    bank = make_source_bank("events")
    assert {"piano", "drums", "alarm", "footsteps", "knock", "helicopter"} <= set(bank.classes)
    assert len(bank.classes) == len(EVENT_CLASSES) + 3
    small = make_source_bank("events", classes=["piano", "knock"], units=["piano:gm001", "knock:door"])
    assert small.units() == ("knock:door", "piano:gm001")
    assert make_source_bank("events", procedural=False).classes == tuple(sorted(EVENT_CLASSES))
    with pytest.raises(ValueError, match="unknown event classes \\['kazoo'\\]"):
        make_source_bank("events", classes=["kazoo"])


def test_missing_presets_are_caught(monkeypatch):
    from spatialrep.simulate.sources.events import EventStyle

    with pytest.raises(ValueError, match="has no program 200"):
        render_notes([(0.0, 0.1, 60, 100)], 200, duration_s=0.1)
    # TinySoundFont plays silence for a missing drum kit, so the bank checks presets up front.
    monkeypatch.setitem(EVENT_CLASSES, "ghost", EventStyle((5,), drums=True))
    with pytest.raises(ValueError, match=r"has no preset bank 128 program 5 \(ghost:kit005\)"):
        MidiEvents(classes=["ghost"])


def test_combined_bank_rejects_shared_units(tmp_path):
    import soundfile as sf

    from spatialrep.simulate.sources import AudioFolder

    sf.write(tmp_path / "a.wav", np.ones(100) * 0.1, 8000)
    one = AudioFolder.from_files([(tmp_path / "a.wav", "x", "u")])
    two = AudioFolder.from_files([(tmp_path / "a.wav", "y", "u")])
    with pytest.raises(ValueError, match="unit 'u' is in both"):
        CombinedBank([one, two])
    with pytest.raises(TypeError, match="not the string"):
        ProceduralEvents(classes="alarm")
