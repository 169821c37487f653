"""Methods: one module per system, each composing an encoder, a feature front-end and a loss.

So far: :mod:`spatialrep.methods.sfd` (spatial feature distillation).
"""
