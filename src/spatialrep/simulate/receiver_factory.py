"""Build a :class:`~spatialrep.simulate.receivers.Receiver` from a short spec string (configs, CLI).

Specs:

* ``kemar``: the shipped MIT KEMAR set (:func:`~.hrtf.load_default_hrtf`), nearest-direction lookup;
  ``kemar:interpolation=interpolated`` interpolates between measured directions.
* ``sphere``: the default rigid-sphere head; ``sphere:radius=0.09,left_azimuth=95,...`` sets its parameters
  (:meth:`~.spherical_head.SphericalHead.from_spec`; a spherical head's ``name`` is its spec).
* ``array:<preset>``: free-field microphone array (:func:`~spatialrep.geometry.arrays.list_arrays`).
* a path ending in ``.sofa``: a ``SimpleFreeFieldHRIR`` file (:meth:`~.hrtf.HRTFSet.from_sofa`).
* ``sofa:<package>/<file>.sofa``: a SOFA file shipped inside an installed Python package, found without
  importing the package; e.g. ``sofa:spatialaudiometrics/example_sofa_1.sofa``, one of the two measured
  human heads of the ``spatialaudiometrics`` wheel (``make`` installs it, data only; GPL: never redistributed
  here). Keep those heads for testing: a model never trains on them, so they stay unseen.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from spatialrep.geometry.arrays import list_arrays, make_array
from spatialrep.simulate.hrtf import INTERPOLATIONS, HRTFSet, load_default_hrtf
from spatialrep.simulate.receivers import FreeFieldArray, Receiver
from spatialrep.simulate.spherical_head import SphericalHead


def list_receivers() -> list[str]:
    """The named receiver specs (a path to a ``.sofa`` file is valid too)."""
    return ["kemar", "sphere", *(f"array:{name}" for name in list_arrays())]


def _valid() -> str:
    return ", ".join(list_receivers()) + ", sphere:<key=value,...>, or a path to a .sofa file"


def make_receiver(spec: str, sample_rate: int) -> Receiver:
    """Build the receiver a spec names (see the module docstring).

    Args:
        spec: ``kemar``, ``kemar:interpolation=<nearest|interpolated>``, ``sphere``, ``sphere:<options>``,
            ``array:<preset>`` or ``<path>.sofa``.
        sample_rate: Hz.

    Raises:
        ValueError: an unknown spec or option (the message lists the valid ones); bad sphere parameters.
        spatialrep.io.sofa.SofaError: a missing or invalid ``.sofa`` file (a ``ValueError`` too).
    """
    text = spec.strip()
    if text.startswith("sofa:"):
        return HRTFSet.from_sofa(packaged_sofa(text.removeprefix("sofa:")), sample_rate)
    if text.lower().endswith(".sofa"):
        return HRTFSet.from_sofa(text, sample_rate)
    kind, _, options = text.partition(":")
    if kind == "kemar":
        return load_default_hrtf(sample_rate, interpolation=_kemar_interpolation(options))
    if kind == "sphere":
        return SphericalHead.from_spec(text, sample_rate)
    if kind == "array" and options:
        return FreeFieldArray(make_array(options), sample_rate)
    raise ValueError(f"unknown receiver {spec!r}; valid: {_valid()}")


def _kemar_interpolation(options: str) -> str:
    if not options:
        return "nearest"
    key, sep, value = (t.strip() for t in options.partition("="))
    if key != "interpolation" or not sep or value not in INTERPOLATIONS:
        raise ValueError(f"bad kemar option {options!r}; valid: interpolation=<{'|'.join(INTERPOLATIONS)}>")
    return value


def packaged_sofa(reference: str) -> Path:
    """The path of ``<package>/<file>.sofa`` inside an installed package (the package is not imported).

    Raises:
        ValueError: a malformed reference, a package that is not installed, or no such file in it.
    """
    package, _, name = reference.partition("/")
    if not package or not name.lower().endswith(".sofa"):
        raise ValueError(f"bad packaged SOFA reference {reference!r}; expected sofa:<package>/<file>.sofa")
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise ValueError(
            f"package {package!r} of receiver sofa:{reference} is not installed "
            f"(pip install --no-deps {package})"
        )
    path = Path(next(iter(found.submodule_search_locations))) / name
    if not path.is_file():
        available = sorted(p.name for p in path.parent.glob("*.sofa"))
        raise ValueError(
            f"no {name} in package {package!r}; it has: {', '.join(available) or 'no SOFA file'}"
        )
    return path
