"""Manifest cells and files: round trips, byte stability, typed columns."""

import math

import numpy as np
import pytest

from spatialrep.data.manifest import (
    ManifestError,
    decode_cell,
    encode_cell,
    find_manifest,
    manifest_text,
    read_rows,
    read_table,
    table_text,
    write_manifest,
)


@pytest.mark.parametrize(
    "value",
    [0, -3, 0.1, 1e-300, 123456.789, [1.5, -2.0], ["dog", 'a,b "quoted"'], {"k": [1, None]}, True, "x y"],
)
def test_cells_round_trip(value):
    assert decode_cell("anything", encode_cell(value)) == value


def test_special_cells():
    assert encode_cell(None) == "" and decode_cell("snr_db", "") is None
    assert encode_cell(np.float32(0.5)) == "0.5" and encode_cell(np.int64(7)) == "7"
    assert encode_cell(np.array([1.0, 2.0])) == "[1.0, 2.0]"
    assert math.isnan(decode_cell("x", encode_cell(float("nan"))))
    assert decode_cell("room_id", "12") == "12" and decode_cell("noisy_path", "1.flac") == "1.flac"
    assert decode_cell("other", "12") == 12 and decode_cell("class", '["1"]') == ["1"]


def test_rows_round_trip_with_stable_bytes(tmp_path):
    rows = [
        {
            "id": "a",
            "split": "train",
            "azimuth_deg": [10.25],
            "class": ["speech"],
            "rt60_s": 0.30000000000000004,
        },
        {"id": "b", "split": "test", "azimuth_deg": [-3.0, 4.5], "class": ["x", "y"], "extra": "only here"},
    ]
    write_manifest(tmp_path / "m.csv", rows)
    back = read_rows(tmp_path / "m.csv")
    assert back[0]["rt60_s"] == rows[0]["rt60_s"] and back[1]["azimuth_deg"] == [-3.0, 4.5]
    assert back[0]["extra"] is None and back[1]["extra"] == "only here"
    assert (tmp_path / "m.csv").read_text() == manifest_text(back)


def test_bad_manifests(tmp_path):
    with pytest.raises(ManifestError, match="not found"):
        read_rows(tmp_path / "none.csv")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("id,split\na,train,extra\n")
    with pytest.raises(ManifestError, match="line 2 has more cells"):
        read_rows(ragged)
    with pytest.raises(ManifestError, match="needs a dataset folder"):
        find_manifest(ragged, budget="1h")


def test_raw_tables_copy_manifests_byte_for_byte(tmp_path):
    rows = [{"id": "a", "split": "train", "class": ['x, "y"'], "snr_db": 0.1 + 0.2, "note": "1.0"}]
    write_manifest(tmp_path / "m.csv", rows)
    header, records = read_table(tmp_path / "m.csv")
    assert header == ["id", "split", "class", "snr_db", "note"] and records[0][4] == "1.0"
    assert table_text(header, records) == (tmp_path / "m.csv").read_text()
