"""Methods: one module per system, each composing an encoder, a feature front-end and a loss.

* :mod:`spatialrep.methods.sfd` (+ ``sfd_targets``): spatial feature distillation, its supervised baselines.
* :mod:`spatialrep.methods.sce`: SCE / WSCE contrastive embeddings with their k-NN reference set.
* :mod:`spatialrep.methods.feedforward`: the feed-forward regression baseline of SCE.
* :mod:`spatialrep.methods.registry`: load any method's checkpoint (``load_model``), as ``localize`` does.
"""
