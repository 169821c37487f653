"""Laplacian eigenmaps (Belkin & Niyogi 2003) with a Nyström out-of-sample extension: the LEM baseline of SCE.

Graph: each training point is joined to its ``M`` nearest training points, itself included (``M = 10`` in
Tang et al.), with heat-kernel weights ``w_ij = exp(-||x_i - x_j||² / σ²)``; ``σ²`` is the median squared
distance to the ``M - 1`` other neighbours over the training set unless given. The graph is symmetrised with
``max(w_ij, w_ji)``. The embedding solves ``L y = λ D y`` (``L = D - W``) for the ``n_components`` smallest
non-trivial ``λ`` (through the symmetric ``D^-1/2 W D^-1/2``, whose top eigenvector is the trivial one).

Out of sample (Bengio et al. 2004): a query's kernel row over its ``M`` nearest training points, normalised to
sum 1, averages the training embeddings, divided by ``1 - λ_k``: ``y_k(x) = Σ_j p_j(x) y_jk / (1 - λ_k)``.
Because
``D⁻¹ W y = (1 - λ) y`` on the training set, a training point whose neighbourhood is symmetric maps exactly
onto its own embedding (the self-loop makes the query row match the training row).

References:
    M. Belkin, P. Niyogi, "Laplacian eigenmaps for dimensionality reduction and data representation", Neural
    Computation 15(6), 2003. Y. Bengio et al., "Out-of-sample extensions for LLE, Isomap, MDS, Eigenmaps, and
    spectral clustering", NIPS 2004.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh

from spatialrep.evaluate.neighbours import as_float_matrix, nearest_neighbours

__all__ = ["LaplacianEigenmaps"]

FloatArray = npt.NDArray[np.float64]


def _as_matrix(value: Any, name: str) -> FloatArray:
    return as_float_matrix(value, name)


def _nearest(queries: FloatArray, train: FloatArray, k: int) -> tuple[npt.NDArray[np.intp], FloatArray]:
    """Indices and squared distances of the ``k`` nearest training points per query, nearest first (high
    input dimension: the Gram form of the distance)."""
    return nearest_neighbours(queries, train, k, exact=False)


class LaplacianEigenmaps:
    """Laplacian eigenmaps of a k-NN heat-kernel graph, with out-of-sample extension.

    Args:
        n_components: embedding dimension (3 as SCE).
        n_neighbors: ``M``, neighbours per point including the point itself, ``>= 2``.
        bandwidth: ``σ²`` of the heat kernel in squared input units; ``None``: the median squared distance
            to the ``M - 1`` nearest other training points.

    Raises:
        ValueError: ``n_components < 1``, ``n_neighbors < 2`` or a non-positive bandwidth.
    """

    def __init__(self, n_components: int = 3, n_neighbors: int = 10, bandwidth: float | None = None) -> None:
        if n_components < 1:
            raise ValueError(f"n_components must be >= 1, got {n_components}")
        if n_neighbors < 2:
            raise ValueError(f"n_neighbors must be >= 2 (the point itself and one other), got {n_neighbors}")
        if bandwidth is not None and not (np.isfinite(bandwidth) and bandwidth > 0):
            raise ValueError(f"bandwidth must be finite and > 0, got {bandwidth}")
        self.n_components = int(n_components)
        self.n_neighbors = int(n_neighbors)
        self.bandwidth = bandwidth
        self._train: FloatArray | None = None
        self.embedding_: FloatArray | None = None
        self.eigenvalues_: FloatArray | None = None
        self.sigma2_: float | None = None

    def fit(self, features: Any) -> LaplacianEigenmaps:
        """Build the graph of ``(N, dim)`` training features and embed them (``embedding_``, ``(N, c)``).

        Raises:
            ValueError: bad shape, NaN, or ``N <= max(n_neighbors, n_components + 1)``.
        """
        x = _as_matrix(features, "features")
        n = x.shape[0]
        if n <= max(self.n_neighbors, self.n_components + 1):
            raise ValueError(
                f"need more than max(n_neighbors={self.n_neighbors}, n_components + 1) training points, "
                f"got {n}"
            )
        indices, squared = _nearest(x, x, self.n_neighbors)
        others = squared[:, 1:]
        sigma2 = float(self.bandwidth) if self.bandwidth is not None else float(np.median(others))
        if not sigma2 > 0:
            sigma2 = 1.0  # every neighbour coincides: any bandwidth gives the same (uniform) weights
        weights = np.exp(-squared / sigma2)
        rows = np.repeat(np.arange(n), self.n_neighbors)
        w = sp.csr_matrix((weights.ravel(), (rows, indices.ravel())), shape=(n, n))
        w = w.maximum(w.T).tocsr()
        degree = np.asarray(w.sum(axis=1)).ravel()
        inv_sqrt = 1.0 / np.sqrt(degree)
        s = sp.diags(inv_sqrt) @ w @ sp.diags(inv_sqrt)
        k = self.n_components + 1
        # eigsh with a fixed start vector: the result must not depend on the global random state.
        v0 = np.sqrt(degree) / np.linalg.norm(np.sqrt(degree))
        values, vectors = eigsh(s, k=k, which="LA", v0=v0 + 1e-3 * np.cos(np.arange(n)))
        order = np.argsort(values)[::-1]
        values, vectors = values[order], vectors[:, order]
        embedding = vectors[:, 1:] * inv_sqrt[:, None]
        # Fix the sign of each eigenvector (largest-magnitude entry positive) so fits are reproducible.
        signs = np.sign(embedding[np.argmax(np.abs(embedding), axis=0), np.arange(self.n_components)])
        embedding = embedding * np.where(signs == 0, 1.0, signs)
        self._train = x
        self.sigma2_ = sigma2
        self.eigenvalues_ = 1.0 - values[1:]
        self.embedding_ = embedding
        return self

    def transform(self, features: Any) -> FloatArray:
        """Out-of-sample embeddings of ``(M, dim)`` queries (Nyström), ``(M, n_components)``.

        Raises:
            RuntimeError: called before :meth:`fit`.
            ValueError: bad shape, dimension mismatch or NaN.
        """
        if (
            self._train is None
            or self.embedding_ is None
            or self.eigenvalues_ is None
            or self.sigma2_ is None
        ):
            raise RuntimeError("LaplacianEigenmaps.fit must be called before transform")
        q = _as_matrix(features, "features")
        if q.shape[1] != self._train.shape[1]:
            raise ValueError(
                f"features have dimension {q.shape[1]} but the training set {self._train.shape[1]}"
            )
        indices, squared = _nearest(q, self._train, self.n_neighbors)
        kernel = np.exp(-(squared - squared[:, :1]) / self.sigma2_)  # shifted for stability; cancels below
        p = kernel / kernel.sum(axis=1, keepdims=True)
        averaged = np.einsum("mk,mkc->mc", p, self.embedding_[indices])
        return averaged / (1.0 - self.eigenvalues_)

    def fit_transform(self, features: Any) -> FloatArray:
        """:meth:`fit` and return ``embedding_``."""
        self.fit(features)
        assert self.embedding_ is not None
        return self.embedding_
