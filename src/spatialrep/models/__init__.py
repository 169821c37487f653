"""Encoders behind a small registry, their input helpers and task heads.

Importing this package registers every encoder: :func:`list_encoders` names them and
:func:`create_encoder` builds one. Models take features as input and never import :mod:`spatialrep.simulate`.
"""

from spatialrep.models.ast import (
    ASTBackbone,
    ASTEncoder,
    FeatureAttention,
    FusionStem,
    PatchEmbed,
    patch_mask,
)
from spatialrep.models.conformer import CausalConformer, ConformerLayerState, ConformerState
from spatialrep.models.crnn import CRNN
from spatialrep.models.freezable import FreezableEncoder
from spatialrep.models.heads import CLIP_POOLINGS, FramewiseClassifier, LinearHead
from spatialrep.models.inputs import feature_maps_to_sequence, sequence_to_feature_maps
from spatialrep.models.mlp import MLPEncoder
from spatialrep.models.registry import Encoder, EncoderConfig, create_encoder, list_encoders, register_encoder
from spatialrep.models.resnet1d import ResNet1dBiLSTM

__all__ = [
    "CLIP_POOLINGS",
    "CRNN",
    "ASTBackbone",
    "ASTEncoder",
    "CausalConformer",
    "ConformerLayerState",
    "ConformerState",
    "Encoder",
    "EncoderConfig",
    "FeatureAttention",
    "FramewiseClassifier",
    "FreezableEncoder",
    "FusionStem",
    "LinearHead",
    "MLPEncoder",
    "PatchEmbed",
    "ResNet1dBiLSTM",
    "create_encoder",
    "feature_maps_to_sequence",
    "list_encoders",
    "patch_mask",
    "register_encoder",
    "sequence_to_feature_maps",
]
