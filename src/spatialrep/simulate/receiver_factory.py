"""Build a :class:`~spatialrep.simulate.receivers.Receiver` from a short spec string (configs, CLI).

Specs:

* ``kemar``: the shipped MIT KEMAR set (:func:`~.hrtf.load_default_hrtf`), nearest-direction lookup;
  ``kemar:interpolation=interpolated`` interpolates between measured directions.
* ``sphere``: the default rigid-sphere head; ``sphere:radius=0.09,left_azimuth=95,...`` sets its parameters
  (:meth:`~.spherical_head.SphericalHead.from_spec`; a spherical head's ``name`` is its spec).
* ``array:<preset>``: free-field microphone array (:func:`~spatialrep.geometry.arrays.list_arrays`).
* a path ending in ``.sofa``: a ``SimpleFreeFieldHRIR`` file (:meth:`~.hrtf.HRTFSet.from_sofa`).
"""

from __future__ import annotations

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
