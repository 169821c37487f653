"""The shoebox image lattice against pyroomacoustics' image-source method (same images, same delays)."""

from __future__ import annotations

import numpy as np
import pyroomacoustics as pra

from spatialrep.simulate.room_response import image_sources
from spatialrep.simulate.rooms import ShoeboxRoom


def test_image_sources_match_pyroomacoustics() -> None:
    room = ShoeboxRoom("r", (5.0, 4.0, 3.0), 0.4)
    source, mic = np.array([1.2, 1.5, 1.4]), np.array([3.1, 2.2, 1.6])
    ref = pra.ShoeBox(list(room.size), fs=16000, materials=pra.Material(room.absorption), max_order=3)
    ref.add_source(source)
    ref.add_microphone(mic)
    ref.image_source_model()
    ref_pos = ref.sources[0].images.T - mic
    ref_order = ref.sources[0].orders
    ref_damping = ref.sources[0].damping[0]

    offset, distance, order = image_sources(
        room, source, mic, float(np.linalg.norm(ref_pos, axis=1).max()) + 1
    )
    keep = order <= 3
    ours = {tuple(np.round(o, 5)): k for o, k in zip(offset[keep], order[keep])}
    theirs = {tuple(np.round(o, 5)): k for o, k in zip(ref_pos, ref_order)}
    assert ours == theirs
    np.testing.assert_allclose(ref_damping, room.reflection_coefficient**ref_order, rtol=1e-6)  # float32
    np.testing.assert_allclose(distance, np.linalg.norm(offset, axis=1))
    assert np.count_nonzero(order == 0) == 1
    np.testing.assert_allclose(offset[order == 0][0], source - mic)
