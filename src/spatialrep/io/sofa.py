"""Read head-related impulse responses from SOFA files (AES69) into a plain :class:`HRIRData`.

Only the ``SimpleFreeFieldHRIR`` convention is accepted: one listener, two receivers (left, right), one
emitter, source positions around a listener facing +x. Other conventions (``SimpleFreeFieldHRTF``,
``GeneralFIR``, ...) are refused with an error naming the convention found; convert them to
``SimpleFreeFieldHRIR`` first (e.g. with sofar or the SOFA API).

Conventions of the result (:mod:`spatialrep.geometry.coordinates`): azimuth 0 = front, +π/2 = left, wrapped to
``(-π, π]``; elevation + up; radians; distances in metres; channel 0 = left ear (SOFA's receiver 1). SOFA's
spherical source positions are already in this convention (in degrees); Cartesian ones are converted.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spatialrep.geometry.coordinates import cartesian_to_spherical, spherical_to_cartesian, wrap_angle

SUPPORTED_CONVENTION = "SimpleFreeFieldHRIR"

_ORIENTATION_TOLERANCE_DEG = 1.0


class SofaError(ValueError):
    """A SOFA file is missing, corrupt, of another convention or inconsistent; the message names the file."""


@dataclass(frozen=True)
class HRIRData:
    """A set of measured head-related impulse responses.

    Arrays are converted to float64 and made read-only, so one instance can be shared safely.

    Attributes:
        name: subject identifier, e.g. ``"mit_kemar_normal_pinna"``.
        sample_rate: Hz.
        azimuth: shape ``(n,)``, radians, 0 = front, +π/2 = left, in ``(-π, π]``.
        elevation: shape ``(n,)``, radians, + up, in ``[-π/2, π/2]``.
        distance: shape ``(n,)``, metres (measurement distance; far-field sets use it for nothing else).
        hrirs: shape ``(n, 2, taps)``; channel 0 = left ear, 1 = right ear.
        convention: the SOFA convention the data came from.

    Raises:
        ValueError: inconsistent shapes, non-finite values, a non-positive sample rate or distance.
    """

    name: str
    sample_rate: int
    azimuth: np.ndarray = field(repr=False)
    elevation: np.ndarray = field(repr=False)
    distance: np.ndarray = field(repr=False)
    hrirs: np.ndarray = field(repr=False)
    convention: str = SUPPORTED_CONVENTION

    def __post_init__(self) -> None:
        if not self.sample_rate > 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")
        hrirs = np.array(self.hrirs, dtype=np.float64)
        if hrirs.ndim != 3 or hrirs.shape[1] != 2 or hrirs.shape[0] < 1 or hrirs.shape[2] < 1:
            raise ValueError(
                f"hrirs must have shape (directions, 2, taps) with 2 = (left, right); got {hrirs.shape}"
            )
        n = hrirs.shape[0]
        arrays = {"hrirs": hrirs}
        for key in ("azimuth", "elevation", "distance"):
            value = np.array(getattr(self, key), dtype=np.float64)
            if value.shape != (n,):
                raise ValueError(
                    f"{key} must have shape ({n},) to match hrirs {hrirs.shape}; got {value.shape}"
                )
            arrays[key] = value
        for key, value in arrays.items():
            if not np.all(np.isfinite(value)):
                raise ValueError(f"{key} contains NaN or inf values")
        if np.any(np.abs(arrays["elevation"]) > np.pi / 2 + 1e-9):
            raise ValueError("elevation must lie in [-pi/2, pi/2] radians")
        if np.any(arrays["distance"] <= 0):
            raise ValueError("distance must be positive")
        arrays["azimuth"] = wrap_angle(arrays["azimuth"])
        for key, value in arrays.items():
            value.setflags(write=False)
            object.__setattr__(self, key, value)
        object.__setattr__(self, "sample_rate", int(self.sample_rate))

    @property
    def num_directions(self) -> int:
        return int(self.hrirs.shape[0])

    @property
    def taps(self) -> int:
        return int(self.hrirs.shape[2])


def read_sofa(path: str | os.PathLike[str]) -> HRIRData:
    """Read a ``SimpleFreeFieldHRIR`` SOFA file.

    ``Data.Delay`` (integer samples) is applied by prepending zeros, so the returned responses carry their
    full delay. Head orientation must be SOFA's default (``ListenerView`` +x, ``ListenerUp`` +z).

    Args:
        path: a ``.sofa`` file (sofar only opens files with this extension).

    Returns:
        The responses, directions and sample rate; ``name`` is built from the file's ``DatabaseName`` and
        ``ListenerShortName`` attributes (else from the file name), lower-case with underscores.

    Raises:
        SofaError: the file is missing, not a SOFA (netCDF-4) file, of another convention, has other than 2
            receivers, inconsistent shapes, NaN data, fractional delays, an unsupported head orientation or
            source positions that are neither spherical (degree, degree, metre) nor Cartesian (metre).
    """
    p = Path(path)
    if not p.is_file():
        raise SofaError(f"SOFA file not found: {p}")
    if p.suffix != ".sofa":
        raise SofaError(f"{p}: SOFA files must have the extension '.sofa' (sofar opens no other)")
    convention = _peek_convention(p)
    if convention != SUPPORTED_CONVENTION:
        raise SofaError(
            f"{p}: SOFA convention {convention!r} is not supported; expected {SUPPORTED_CONVENTION!r} "
            "(convert the file first)"
        )
    import sofar  # deferred: a quarter of a second to import, needed only here

    try:
        sofa = sofar.read_sofa(str(p), verify=False, verbose=False)
    except Exception as exc:  # sofar and netCDF4 raise many types for damaged files
        raise SofaError(f"{p}: cannot read SOFA file: {exc}") from exc
    try:
        return _to_hrir_data(sofa, p)
    except SofaError:
        raise
    except (ValueError, TypeError, AttributeError) as exc:
        raise SofaError(f"{p}: {exc}") from exc


def _peek_convention(p: Path) -> str:
    """The ``SOFAConventions`` global attribute, read with netCDF4 before sofar parses the whole file."""
    import netCDF4

    try:
        with netCDF4.Dataset(str(p), "r") as nc:
            attrs = nc.ncattrs()
            if "Conventions" in attrs and str(nc.getncattr("Conventions")) != "SOFA":
                raise SofaError(
                    f"{p}: not a SOFA file (netCDF Conventions = {nc.getncattr('Conventions')!r})"
                )
            if "SOFAConventions" not in attrs:
                raise SofaError(f"{p}: not a SOFA file (netCDF file without a SOFAConventions attribute)")
            return str(nc.getncattr("SOFAConventions"))
    except SofaError:
        raise
    except Exception as exc:  # netCDF4 raises OSError for foreign formats, others for damaged files
        raise SofaError(f"{p}: not a SOFA (netCDF-4) file or corrupt: {exc}") from exc


def _array(sofa: Any, key: str) -> np.ndarray:
    if not hasattr(sofa, key):
        raise SofaError(f"missing mandatory variable {key.replace('_', '.')}")
    value = getattr(sofa, key)
    if np.ma.isMaskedArray(value):
        value = np.ma.filled(value.astype(np.float64), np.nan)
    return np.asarray(value, dtype=np.float64)


def _to_hrir_data(sofa: Any, p: Path) -> HRIRData:
    ir = _array(sofa, "Data_IR")
    if ir.ndim == 2:  # sofar drops a trailing singleton axis: (M, R) for one-tap responses
        ir = ir[:, :, None]
    if ir.ndim != 3:
        raise SofaError(f"{p}: Data.IR must be (M, R, N); got shape {ir.shape}")
    m, r, _ = ir.shape
    if r != 2:
        raise SofaError(f"{p}: Data.IR has {r} receivers; a binaural HRIR set needs 2 (left, right)")
    if np.isnan(ir).any():
        raise SofaError(f"{p}: Data.IR contains NaN (missing) values")

    rate = np.unique(_array(sofa, "Data_SamplingRate").ravel())
    if rate.size != 1 or not np.isfinite(rate[0]) or rate[0] <= 0 or rate[0] != np.round(rate[0]):
        raise SofaError(f"{p}: Data.SamplingRate must be one positive integer number of hertz; got {rate}")

    positions = np.atleast_2d(_array(sofa, "SourcePosition"))
    if positions.shape != (m, 3):
        raise SofaError(
            f"{p}: SourcePosition has shape {positions.shape} but Data.IR has {m} measurements; "
            f"expected ({m}, 3)"
        )
    azimuth, elevation, distance = _source_directions(sofa, positions, p)

    if hasattr(sofa, "ReceiverPosition"):
        receivers = np.asarray(sofa.ReceiverPosition)
        if receivers.ndim >= 1 and receivers.shape[0] != r:
            raise SofaError(f"{p}: ReceiverPosition has {receivers.shape[0]} receivers but Data.IR has {r}")
    for key, default in (("ListenerView", (1.0, 0.0, 0.0)), ("ListenerUp", (0.0, 0.0, 1.0))):
        _check_orientation(sofa, key, np.array(default), p)

    ir = _apply_delay(sofa, ir, p)
    return HRIRData(
        name=_subject_name(sofa, p),
        sample_rate=int(rate[0]),
        azimuth=azimuth,
        elevation=elevation,
        distance=distance,
        hrirs=ir,
        convention=SUPPORTED_CONVENTION,
    )


def _unit_tokens(units: str) -> list[str]:
    return [t for t in re.split(r"[,\s]+", units.strip().lower()) if t]


def _source_directions(sofa: Any, positions: np.ndarray, p: Path) -> tuple[np.ndarray, ...]:
    if np.isnan(positions).any():
        raise SofaError(f"{p}: SourcePosition contains NaN (missing) values")
    kind = str(getattr(sofa, "SourcePosition_Type", "")).strip().lower()
    units = str(getattr(sofa, "SourcePosition_Units", ""))
    tokens = _unit_tokens(units)
    if kind == "spherical":
        ok = (
            len(tokens) == 3
            and all(t.startswith("degree") for t in tokens[:2])
            and tokens[2] in ("metre", "meter", "metres", "meters", "m")
        )
        if not ok:
            raise SofaError(
                f"{p}: spherical SourcePosition must be in 'degree, degree, metre'; got units {units!r}"
            )
        azimuth = wrap_angle(np.deg2rad(positions[:, 0]))
        elevation = np.deg2rad(positions[:, 1])
        distance = positions[:, 2]
        if np.any(np.abs(elevation) > np.pi / 2 + 1e-9):
            raise SofaError(f"{p}: SourcePosition elevations must lie in [-90, 90] degrees")
        return azimuth, elevation, distance
    if kind == "cartesian":
        if not (len(tokens) >= 1 and all(t in ("metre", "meter", "metres", "meters", "m") for t in tokens)):
            raise SofaError(f"{p}: cartesian SourcePosition must be in metres; got units {units!r}")
        if np.any(np.linalg.norm(positions, axis=1) == 0):
            raise SofaError(f"{p}: a SourcePosition is at the listener position (no direction)")
        return cartesian_to_spherical(positions)
    raise SofaError(
        f"{p}: SourcePosition type {kind!r} is not supported; expected 'spherical' (degree, degree, metre) "
        "or 'cartesian' (metre)"
    )


def _check_orientation(sofa: Any, key: str, expected: np.ndarray, p: Path) -> None:
    if not hasattr(sofa, key):
        return
    value = np.atleast_2d(np.asarray(getattr(sofa, key), dtype=np.float64))
    if value.shape[-1] != 3:
        raise SofaError(f"{p}: {key} must have 3 coordinates; got shape {value.shape}")
    kind = str(getattr(sofa, f"{key}_Type", "cartesian")).strip().lower()
    if kind == "spherical":
        value = spherical_to_cartesian(np.deg2rad(value[:, 0]), np.deg2rad(value[:, 1]))
    norm = np.linalg.norm(value, axis=1)
    cosine = (value @ expected) / np.where(norm > 0, norm, 1.0)
    if np.any(norm == 0) or np.any(cosine < np.cos(np.deg2rad(_ORIENTATION_TOLERANCE_DEG))):
        raise SofaError(
            f"{p}: {key} {value.tolist()} is not supported; spatialrep reads heads facing +x with +z up "
            f"(SOFA's default {key} {expected.tolist()})"
        )


def _apply_delay(sofa: Any, ir: np.ndarray, p: Path) -> np.ndarray:
    if not hasattr(sofa, "Data_Delay"):
        return ir
    delay = np.atleast_2d(_array(sofa, "Data_Delay"))
    try:
        delay = np.broadcast_to(delay, ir.shape[:2])
    except ValueError:
        raise SofaError(
            f"{p}: Data.Delay has shape {delay.shape}; expected (1, {ir.shape[1]}) or {ir.shape[:2]}"
        ) from None
    if not np.all(np.isfinite(delay)) or np.any(delay < 0) or np.any(delay != np.round(delay)):
        raise SofaError(f"{p}: Data.Delay must hold non-negative whole numbers of samples")
    if not np.any(delay):
        return ir
    shift = delay.astype(np.int64)
    out = np.zeros((*ir.shape[:2], ir.shape[2] + int(shift.max())))
    idx = shift[..., None] + np.arange(ir.shape[2])
    np.put_along_axis(out, idx, ir, axis=-1)
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _subject_name(sofa: Any, p: Path) -> str:
    parts: list[str] = []
    for key in ("GLOBAL_DatabaseName", "GLOBAL_ListenerShortName"):
        slug = _slug(str(getattr(sofa, key, "") or ""))
        if slug and not any(slug in part for part in parts):
            parts.append(slug)
    return "_".join(parts) or _slug(p.stem) or "hrtf"
