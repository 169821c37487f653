"""Scene descriptions and rendered examples.

A :class:`SceneSpec` is everything random about one example, drawn from a
:class:`~spatialrep.simulate.scene_config.SceneConfig` by :mod:`spatialrep.simulate.sampling`; rendering it
(:mod:`spatialrep.simulate.render`) is then deterministic. Positions of sources are given relative to the
receiver in its own frame (radians, metres); the room fixes where the receiver stands and which way it faces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spatialrep.simulate.rooms import ShoeboxRoom


@dataclass(frozen=True)
class SourceSpec:
    """One sound source of a scene.

    Attributes:
        azimuth: radians, receiver frame (0 = front, +π/2 = left).
        elevation: radians (+ up).
        distance: metres from the receiver centre.
        seed: seed of the source bank draw (signal content).
        role: ``"target"`` (a labelled source) or ``"interferer"`` (directional noise).
        level_db: level relative to the first target, dB (0 for targets; -SIR for interferers).
    """

    azimuth: float
    elevation: float
    distance: float
    seed: int
    role: str = "target"
    level_db: float = 0.0


@dataclass(frozen=True)
class SceneSpec:
    """Everything needed to render one example deterministically.

    Attributes:
        index: example index within its dataset.
        sources: targets first, then interferers.
        room: the shoebox room, or ``None`` for anechoic (free field).
        receiver_position: metres, room coordinates (``None`` when anechoic).
        receiver_yaw: radians; the receiver faces this azimuth of the room frame.
        noise_type: diffuse noise type.
        snr_db: reverberant-target-to-diffuse-noise ratio, dB.
        noise_seed: seed of the diffuse noise.
        tail_seed: seed of the modelled late reverberation tails.
        pool_seed: which clip pools render version ``v2`` draws targets and babble talkers from (one per
            dataset split; see :mod:`~spatialrep.simulate.clip_pool`); unused by ``v1``.
    """

    index: int
    sources: tuple[SourceSpec, ...]
    room: ShoeboxRoom | None
    receiver_position: tuple[float, float, float] | None
    receiver_yaw: float
    noise_type: str
    snr_db: float
    noise_seed: int
    tail_seed: int
    pool_seed: int = 0

    @property
    def targets(self) -> tuple[SourceSpec, ...]:
        return tuple(s for s in self.sources if s.role == "target")

    @property
    def interferers(self) -> tuple[SourceSpec, ...]:
        return tuple(s for s in self.sources if s.role == "interferer")


@dataclass
class RenderedScene:
    """The signals and labels of one rendered example.

    Shapes (``C`` receiver channels, ``S`` target sources, ``T`` samples):

    * ``noisy`` ``(C, T)``: reverberant targets + interferers + diffuse noise — what a model hears;
    * ``clean_direct`` ``(S, C, T)``: each target through the direct path only (anechoic spatial reference);
    * ``clean_reverb`` ``(S, C, T)``: each target through the full room response, no noise;
    * ``dry`` ``(S, T)``: the mono source signals;
    * ``noise`` ``(C, T)``: everything in ``noisy`` that is not a target (diffuse noise + interferers).

    ``labels`` holds plain values (see :func:`scene_labels`) ready for a manifest row.
    """

    noisy: np.ndarray
    clean_direct: np.ndarray
    clean_reverb: np.ndarray
    dry: np.ndarray
    noise: np.ndarray
    sample_rate: int
    labels: dict[str, Any] = field(default_factory=dict)

    def signal(self, name: str) -> np.ndarray:
        """A signal by name; per-source ones are summed to ``(C, T)`` (``dry`` stays ``(S, T)``)."""
        if name in ("noisy", "noise", "dry"):
            return getattr(self, name)
        if name in ("clean_direct", "clean_reverb"):
            return getattr(self, name).sum(axis=0)
        raise ValueError(f"unknown signal {name!r}; valid: noisy, clean_direct, clean_reverb, dry, noise")
