"""Methods: one module per system, each composing a feature front-end, an encoder, a head and a loss.

* :mod:`spatialrep.methods.base`: the model protocols (``Localizer``, ``StreamingLocalizer``, ``Embedder``,
  ``LayeredEmbedder``, ``EventDetector``, ``QualityMetric``) and the ``Directions`` they return.
* :mod:`spatialrep.methods.sfd`: spatial feature distillation and its supervised baselines.
* :mod:`spatialrep.methods.sce`: SCE / WSCE contrastive embeddings with their k-NN reference set.
* :mod:`spatialrep.methods.feedforward`: the feed-forward regression baseline of SCE.
* :mod:`spatialrep.methods.classic`: GCC-PHAT-ITD, SRP-PHAT and MUSIC as ``Localizer`` objects, by name.
* :mod:`spatialrep.methods.registry`: ``load_model(path)`` for a checkpoint of any method.

Adding a method: ``docs/contributing.md``.
"""

from spatialrep.methods.base import (
    Directions,
    Embedder,
    EventDetector,
    FrameTrack,
    LayeredEmbedder,
    Localizer,
    QualityMetric,
    StreamingLocalizer,
)
from spatialrep.methods.registry import discover, list_models, load_model

__all__ = [
    "Directions",
    "Embedder",
    "EventDetector",
    "FrameTrack",
    "LayeredEmbedder",
    "Localizer",
    "QualityMetric",
    "StreamingLocalizer",
    "discover",
    "list_models",
    "load_model",
]
