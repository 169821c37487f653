"""Pair contrastive loss with an adaptive margin (SCE / WSCE) and its neighbourhood indicators.

Every pair ``i < j`` of a mini-batch is used (a batch of 128 gives 8,128 pairs). With ``y_ij`` the
neighbourhood indicator, ``s_ij = ||z_i - z_j||²`` the squared embedding distance and ``μ_ij`` the margin, the
paper's loss (Tang et al., eq. 13) is

    ``ℓ_ij = y_ij s_ij + (1 - y_ij) max(0, μ_ij - s_ij)``        (``form="paper"``, the default)

Note that the hinge acts on the *squared* distance and is not squared, and there is no ``1/2``: this differs
from Hadsell et al. (2006), which ``form="hadsell"`` implements,

    ``ℓ_ij = ½ y_ij d_ij² + ½ (1 - y_ij) max(0, μ_ij - d_ij)²``  with ``d_ij = ||z_i - z_j||``.

The loss is the mean of ``ℓ_ij`` over the ``B (B - 1) / 2`` pairs ``i < j``. The paper sums over all ordered
pairs ``(i, j)``; as ``ℓ_ij = ℓ_ji`` and ``ℓ_ii = 0``, that sum is ``B (B - 1)`` times our mean, a constant
factor that the learning rate absorbs.

Adaptive margin (eq. 14): ``μ_ij = exp(δ_ij) / (exp(δ_ij) + 1)`` (the logistic sigmoid of ``δ_ij``), where
``δ_ij`` is a **label-space** distance between the two sources — never an embedding distance:

* SCE: ``δ_ij = d_u(u_i, u_j) = min(|u_i - u_j|, 360° - |u_i - u_j|)``, the wrapped azimuth (or elevation)
  difference. The paper states it in **degrees**; :func:`supervised_label_distances` returns **radians**
  (spatialrep's unit). In degrees every negative pair (``δ > ε_u ≥ 5°``) gets ``μ ≥ σ(5) ≈ 0.993``, i.e. the
  margin is in effect the constant 1; in radians it spans ``σ(ε_u)`` to ``σ(π) ≈ 0.959``. Pass
  ``torch.rad2deg(...)`` of the label distances to reproduce the paper literally.
* WSCE: ``δ_ij = d_s(S_i, S_j)``, the Euclidean distance between the source positions (metres, sources on a
  ball of radius ``Φ`` around the receiver). :func:`weakly_supervised_label_distances` uses the unit sphere
  (``Φ = 1``): the chord ``2 sin(θ_ij / 2)`` for the great-circle angle ``θ_ij``, in ``[0, 2]``.

Neighbourhoods: SCE ``y_ij = [d_u(u_i, u_j) ≤ ε_u]`` (eq. 9), one angle at a time; WSCE
``y_ij = [d_s(S_i, S_j) ≤ ε_s]`` (eq. 10). The paper's ``ε_s ≈ ε_u Φ π / 180°`` (eq. 11) is the arc length;
:func:`arc_to_chord` gives the exact chord ``2 Φ sin(ε_u / 2)``.

References:
    Y. Tang, et al., "Parametric embedding for binaural sound source localization" (SCE / WSCE), sections
    4.1-4.3. R. Hadsell, S. Chopra, Y. LeCun, "Dimensionality reduction by learning an invariant mapping",
    CVPR 2006.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn

from spatialrep.geometry import angular_distance, azimuth_difference
from spatialrep.losses.distances import BaseDistance, EuclideanDistance

__all__ = [
    "PairContrastiveLoss",
    "adaptive_margin",
    "arc_to_chord",
    "supervised_label_distances",
    "supervised_neighbours",
    "weakly_supervised_label_distances",
    "weakly_supervised_neighbours",
]

_FORMS = ("paper", "hadsell")
_MARGINS = ("adaptive",)


def _labels_1d(value: Any, name: str) -> tuple[npt.NDArray[np.float64], torch.device]:
    device = value.device if isinstance(value, Tensor) else torch.device("cpu")
    if isinstance(value, Tensor):
        value = value.detach().cpu().numpy()
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (batch,), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr, device


def _check_eps(eps: float, name: str) -> float:
    eps = float(eps)
    if not math.isfinite(eps) or eps < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {eps}")
    return eps


def supervised_label_distances(angles: Any) -> Tensor:
    """SCE label distances ``d_u``: wrapped absolute differences of one angle (azimuth or elevation).

    Args:
        angles: radians, tensor or array.

    Returns:
        ``(B, B)`` float64 tensor of radians in ``[0, π]``, on the device of ``angles`` (CPU for arrays).

    Shape:
        ``angles``: ``(B,)``.

    Raises:
        ValueError: ``angles`` not 1-D or not finite.
    """
    a, device = _labels_1d(angles, "angles")
    return torch.from_numpy(azimuth_difference(a[:, None], a[None, :])).to(device)


def weakly_supervised_label_distances(azimuth: Any, elevation: Any) -> Tensor:
    """WSCE label distances ``d_s``: Euclidean distances between the directions on the unit sphere.

    ``d_s = 2 sin(θ / 2)`` with ``θ`` the great-circle angle of :func:`spatialrep.geometry.angular_distance`.

    Args:
        azimuth: radians, tensor or array.
        elevation: radians, same length.

    Returns:
        ``(B, B)`` float64 tensor in ``[0, 2]`` (unit-sphere radii), on the device of ``azimuth``.

    Raises:
        ValueError: inputs not 1-D, of different lengths or not finite.
    """
    az, device = _labels_1d(azimuth, "azimuth")
    el, _ = _labels_1d(elevation, "elevation")
    if az.shape != el.shape:
        raise ValueError(f"azimuth and elevation must have the same length, got {az.shape} and {el.shape}")
    theta = angular_distance(az[:, None], el[:, None], az[None, :], el[None, :])
    return torch.from_numpy(2.0 * np.sin(0.5 * theta)).to(device)


def supervised_neighbours(angles: Any, eps_rad: float) -> Tensor:
    """SCE neighbourhood indicator ``y_ij = [d_u(u_i, u_j) ≤ ε_u]`` (eq. 9), with wrap-around.

    Args:
        angles: azimuths or elevations, radians, ``(B,)``.
        eps_rad: threshold ``ε_u``, radians, ``>= 0``.

    Returns:
        ``(B, B)`` bool tensor, symmetric, true diagonal.

    Raises:
        ValueError: negative or non-finite ``eps_rad``; bad ``angles``.
    """
    eps = _check_eps(eps_rad, "eps_rad")
    return supervised_label_distances(angles) <= eps


def weakly_supervised_neighbours(azimuth: Any, elevation: Any, eps: float) -> Tensor:
    """WSCE neighbourhood indicator ``y_ij = [||S_i - S_j|| ≤ ε_s]`` on the unit sphere (eq. 10).

    Args:
        azimuth: radians, ``(B,)``.
        elevation: radians, ``(B,)``.
        eps: threshold ``ε_s`` in unit-sphere radii (``arc_to_chord(ε_u)`` for an angle), ``>= 0``.

    Returns:
        ``(B, B)`` bool tensor, symmetric, true diagonal.

    Raises:
        ValueError: negative or non-finite ``eps``; bad inputs.
    """
    threshold = _check_eps(eps, "eps")
    return weakly_supervised_label_distances(azimuth, elevation) <= threshold


def arc_to_chord(angle_rad: float, radius: float = 1.0) -> float:
    """Chord length ``2 r sin(θ / 2)`` subtending ``angle_rad`` (exact form of the paper's eq. 11).

    Raises:
        ValueError: angle outside ``[0, π]`` or radius not positive.
    """
    if not 0.0 <= angle_rad <= math.pi:
        raise ValueError(f"angle_rad must be in [0, π], got {angle_rad}")
    if not radius > 0:
        raise ValueError(f"radius must be > 0, got {radius}")
    return 2.0 * radius * math.sin(0.5 * angle_rad)


def adaptive_margin(label_distances: Tensor) -> Tensor:
    """``μ = exp(δ) / (exp(δ) + 1) = sigmoid(δ)`` (eq. 14), elementwise; stable for any ``δ``."""
    return torch.sigmoid(label_distances)


class PairContrastiveLoss(nn.Module):
    """Contrastive loss over all pairs of a mini-batch, constant or adaptive margin (SCE / WSCE).

    See the module docstring for the exact formula, the unit of the adaptive margin's label distance and how
    the reduction relates to the paper's sum.

    Args:
        margin: ``"adaptive"`` (``μ_ij = sigmoid(δ_ij)`` from label distances passed to ``forward``) or a
            positive constant ``μ``.
        distance: the embedding distance; Euclidean by default.
        form: ``"paper"`` (Tang et al. eq. 13) or ``"hadsell"`` (Hadsell et al. 2006).

    Raises:
        ValueError: unknown ``margin`` string or ``form`` (the valid ones are listed), non-positive margin.
        TypeError: ``margin`` neither a string nor a real number, or ``distance`` not a ``BaseDistance``.
    """

    def __init__(
        self,
        margin: float | Literal["adaptive"] = "adaptive",
        distance: BaseDistance | None = None,
        form: Literal["paper", "hadsell"] = "paper",
    ) -> None:
        super().__init__()
        if isinstance(margin, str):
            if margin not in _MARGINS:
                raise ValueError(f"unknown margin {margin!r}; valid: {_MARGINS} or a positive number")
        elif isinstance(margin, bool) or not isinstance(margin, int | float):
            raise TypeError(f"margin must be 'adaptive' or a number, got {type(margin).__name__}")
        elif not (math.isfinite(margin) and margin > 0):
            raise ValueError(f"margin must be finite and > 0, got {margin}")
        if form not in _FORMS:
            raise ValueError(f"unknown form {form!r}; valid: {_FORMS}")
        distance = EuclideanDistance() if distance is None else distance
        if not isinstance(distance, BaseDistance):
            raise TypeError(f"distance must be a BaseDistance, got {type(distance).__name__}")
        self.margin: float | str = margin if isinstance(margin, str) else float(margin)
        self.distance = distance
        self.form = form

    @property
    def adaptive(self) -> bool:
        return self.margin == "adaptive"

    def forward(
        self, embeddings: Tensor, neighbours: Tensor, label_distances: Tensor | None = None
    ) -> Tensor:
        """Validate the inputs, build the margins and return the loss.

        Args:
            embeddings: ``(B, D)`` floating, ``B >= 2``.
            neighbours: ``(B, B)`` bool, symmetric (the diagonal is ignored).
            label_distances: ``(B, B)`` non-negative, finite, symmetric label-space distances ``δ_ij``;
                required with ``margin="adaptive"``, refused with a constant margin.

        Returns:
            Scalar tensor, the mean of ``ℓ_ij`` over pairs ``i < j``.

        Raises:
            TypeError: wrong dtypes.
            ValueError: wrong shapes, ``B < 2``, asymmetric or invalid matrices, missing or unexpected
                ``label_distances``.
        """
        if not isinstance(embeddings, Tensor) or not embeddings.is_floating_point():
            raise TypeError(
                f"embeddings must be a floating tensor, got {getattr(embeddings, 'dtype', embeddings)}"
            )
        if embeddings.ndim != 2:
            raise ValueError(f"embeddings must be (batch, dim), got shape {tuple(embeddings.shape)}")
        batch = embeddings.shape[0]
        if batch < 2:
            raise ValueError(f"need a batch of at least 2 embeddings to form pairs, got {batch}")
        if not isinstance(neighbours, Tensor) or neighbours.dtype != torch.bool:
            raise TypeError(
                f"neighbours must be a bool tensor, got {getattr(neighbours, 'dtype', neighbours)}"
            )
        if neighbours.shape != (batch, batch):
            raise ValueError(f"neighbours must be ({batch}, {batch}), got shape {tuple(neighbours.shape)}")
        if not torch.equal(neighbours, neighbours.T):
            raise ValueError("neighbours must be symmetric (y_ij == y_ji)")
        if self.adaptive:
            if label_distances is None:
                raise ValueError("margin='adaptive' needs label_distances (batch, batch)")
            if not isinstance(label_distances, Tensor) or not label_distances.is_floating_point():
                raise TypeError("label_distances must be a floating tensor")
            if label_distances.shape != (batch, batch):
                raise ValueError(
                    f"label_distances must be ({batch}, {batch}), got shape {tuple(label_distances.shape)}"
                )
            if not bool(torch.isfinite(label_distances).all()) or bool((label_distances < 0).any()):
                raise ValueError("label_distances must be finite and >= 0")
            if not torch.allclose(label_distances, label_distances.T):
                raise ValueError("label_distances must be symmetric")
            margins = adaptive_margin(label_distances.to(device=embeddings.device, dtype=embeddings.dtype))
        else:
            if label_distances is not None:
                raise ValueError(
                    f"label_distances is only used with margin='adaptive', not margin={self.margin}"
                )
            margins = torch.full(
                (batch, batch), float(self.margin), dtype=embeddings.dtype, device=embeddings.device
            )
        return self.compute_loss(embeddings, neighbours.to(embeddings.device), margins)

    def compute_loss(self, embeddings: Tensor, neighbours: Tensor, margins: Tensor) -> Tensor:
        """The loss from validated inputs (vectorised over the upper triangle ``i < j``).

        Shape:
            ``embeddings`` ``(B, D)``; ``neighbours`` bool and ``margins`` ``(B, B)``. Returns a scalar.
        """
        batch = embeddings.shape[0]
        rows, cols = torch.triu_indices(batch, batch, offset=1, device=embeddings.device)
        y = neighbours[rows, cols].to(embeddings.dtype)
        mu = margins[rows, cols]
        if self.form == "paper":
            squared = self.distance.pairwise_squared(embeddings)[rows, cols]
            per_pair = y * squared + (1.0 - y) * torch.clamp(mu - squared, min=0.0)
        else:
            dist = self.distance.pairwise(embeddings)[rows, cols]
            per_pair = 0.5 * y * dist**2 + 0.5 * (1.0 - y) * torch.clamp(mu - dist, min=0.0) ** 2
        return per_pair.mean()

    def extra_repr(self) -> str:
        return f"margin={self.margin!r}, distance={self.distance!r}, form={self.form!r}"
