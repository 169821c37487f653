"""Render one binaural scene with the embedded defaults and write its signals to WAV files.

Run: ``.venv/bin/python examples/render_scene.py [OUT_DIR]``
"""

from __future__ import annotations

import sys
from pathlib import Path

from spatialrep.io.audio import write_audio
from spatialrep.simulate.render import SceneRenderer
from spatialrep.simulate.sampling import sample_scene
from spatialrep.simulate.scene_config import SceneConfig


def main(out_dir: str = "example-scene") -> None:
    config = SceneConfig(duration_s=2.0, noise_types=("pink",))
    scene = SceneRenderer(config).render(sample_scene(config, seed=0, index=0))
    out = Path(out_dir)
    for name in ("noisy", "clean_direct", "clean_reverb", "dry"):
        write_audio(out / f"{name}.wav", scene.signal(name), scene.sample_rate)
    labels = scene.labels
    print(
        f"azimuth {labels['azimuth_deg'][0]:.1f}°, distance {labels['distance_m'][0]:.2f} m, "
        f"RT60 {labels['rt60_s']:.2f} s, SNR {labels['snr_db']:.1f} dB -> {out}/"
    )


if __name__ == "__main__":
    main(*sys.argv[1:2])
