"""k-nearest-neighbour regression of directions from embeddings (SCE / WSCE localisation, LEM baseline).

For a query ``z`` with ``K`` nearest training embeddings ``z_1 … z_K`` (Euclidean) and squared distances
``s_k = ||z - z_k||²``, the weights are Gaussian (Tang et al., eqs. 15-16):

    ``w_k = exp(-s_k / h) / Σ_l exp(-s_l / h)``,   ``h = median(s_1, …, s_K)``  (per query).

With an even ``K`` the median is the mean of the two middle values (``numpy.median``). When ``h = 0`` (more
than half of the neighbours coincide with the query) the weights take their limit ``h → 0⁺``: equal weights on
the neighbours at distance zero, none elsewhere. Consequences worth knowing: with ``K = 1`` a query equal to a
training point returns that point's label exactly; with ``K > 1`` and distinct neighbours the median
neighbour always keeps weight ``e⁻¹`` relative to an exact match, so the paper's estimator smooths and does
*not* reproduce a training label exactly.

Azimuth is averaged on the circle, ``atan2(Σ w_k sin a_k, Σ w_k cos a_k)`` (so 179° and -179° give 180°, not
0°), wrapped to ``(-π, π]``; elevation is the plain weighted mean ``Σ w_k e_k``. Radians in and out.

References:
    Y. Tang, et al., "Parametric embedding for binaural sound source localization", section 4.5.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from spatialrep.evaluate.neighbours import as_float_matrix, nearest_neighbours
from spatialrep.geometry import wrap_angle

__all__ = ["KnnRegressor"]

FloatArray = npt.NDArray[np.float64]


_as_float_array = as_float_matrix


class KnnRegressor:
    """Gaussian-weighted k-NN regression of azimuth (circular) and optionally elevation.

    Args:
        k: number of neighbours ``K`` (the paper uses 5).

    Raises:
        ValueError: ``k < 1``.
        TypeError: ``k`` not an integer.
    """

    def __init__(self, k: int = 5) -> None:
        if isinstance(k, bool) or not isinstance(k, int | np.integer):
            raise TypeError(f"k must be an integer, got {type(k).__name__}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.k = int(k)
        self._embeddings: FloatArray | None = None
        self._azimuth: FloatArray | None = None
        self._elevation: FloatArray | None = None

    def fit(self, embeddings: Any, azimuth: Any, elevation: Any | None = None) -> KnnRegressor:
        """Store the training set.

        Args:
            embeddings: ``(N, D)`` training embeddings.
            azimuth: ``(N,)`` radians.
            elevation: optional ``(N,)`` radians.

        Returns:
            ``self``.

        Raises:
            ValueError: wrong shapes, mismatched lengths, NaN/inf, or ``k > N``.
        """
        z = _as_float_array(embeddings, "embeddings", 2)
        az = _as_float_array(azimuth, "azimuth", 1)
        n = z.shape[0]
        if az.shape[0] != n:
            raise ValueError(f"azimuth has {az.shape[0]} entries but embeddings has {n} rows")
        el = None
        if elevation is not None:
            el = _as_float_array(elevation, "elevation", 1)
            if el.shape[0] != n:
                raise ValueError(f"elevation has {el.shape[0]} entries but embeddings has {n} rows")
        if self.k > n:
            raise ValueError(f"k={self.k} exceeds the number of training embeddings N={n}")
        self._embeddings, self._azimuth, self._elevation = z, az, el
        return self

    def neighbour_weights(self, queries: Any) -> tuple[npt.NDArray[np.intp], FloatArray]:
        """Indices of the ``K`` nearest training points and their normalised Gaussian weights.

        Args:
            queries: ``(M, D)``.

        Returns:
            ``(indices, weights)``, each ``(M, K)``, nearest first; each row of ``weights`` sums to 1.

        Raises:
            RuntimeError: called before :meth:`fit`.
            ValueError: wrong shape, dimension mismatch or NaN/inf in ``queries``.
        """
        if self._embeddings is None:
            raise RuntimeError("KnnRegressor.fit must be called before predict")
        train = self._embeddings
        q = _as_float_array(queries, "queries", 2)
        if q.shape[1] != train.shape[1]:
            raise ValueError(
                f"queries have dimension {q.shape[1]} but the training embeddings {train.shape[1]}"
            )
        indices, squared = nearest_neighbours(q, train, self.k)
        bandwidth = np.median(squared, axis=1, keepdims=True)
        safe = np.where(bandwidth > 0, bandwidth, 1.0)
        # h = 0 (limit h → 0⁺): equal weight on the exact matches, of which there is at least one.
        kernel = np.where(bandwidth > 0, np.exp(-squared / safe), (squared == 0).astype(np.float64))
        weights = kernel / kernel.sum(axis=1, keepdims=True)
        return indices, weights

    def predict(self, queries: Any) -> FloatArray | tuple[FloatArray, FloatArray]:
        """Estimate directions for ``(M, D)`` query embeddings.

        Returns:
            Azimuth ``(M,)`` in ``(-π, π]``, or ``(azimuth, elevation)`` when fitted with elevation.

        Raises:
            RuntimeError: called before :meth:`fit`.
            ValueError: see :meth:`neighbour_weights`.
        """
        indices, weights = self.neighbour_weights(queries)
        assert self._azimuth is not None
        az = self._azimuth[indices]
        azimuth = wrap_angle(
            np.arctan2((weights * np.sin(az)).sum(axis=1), (weights * np.cos(az)).sum(axis=1))
        )
        if self._elevation is None:
            return azimuth
        elevation = (weights * self._elevation[indices]).sum(axis=1)
        return azimuth, elevation
