"""A frame-wise multilayer perceptron encoder (the SCE-style MLP over per-frame or per-clip features)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from spatialrep.models.registry import Encoder, check_frames, register_encoder

__all__ = ["ACTIVATIONS", "MLPEncoder"]

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}
"""The accepted values of ``activation``."""


@register_encoder("mlp")
class MLPEncoder(Encoder):
    """Hidden layers ``Linear -> [BatchNorm] -> activation -> [Dropout]``, then an optional output ``Linear``.

    Every frame is encoded on its own (so the encoder is causal; batch norm uses batch statistics in
    training mode and running statistics in eval mode). A clip-level feature vector is a one-frame
    sequence ``(batch, 1, input_dim)``.

    Args:
        input_dim: features per frame.
        hidden_sizes: widths of the hidden layers (may be empty).
        output_dim: width of a final linear layer; ``None`` ends with the last hidden layer.
        batch_norm: batch normalisation after each hidden linear layer.
        dropout: dropout probability after each hidden activation.
        activation: one of :data:`ACTIVATIONS`.

    Raises:
        ValueError: a size is not a positive integer, the dropout is outside ``[0, 1)``, the activation is
            unknown, or there are neither hidden layers nor an output layer.

    Shape:
        ``forward_features``: ``(batch, frames, input_dim) -> (batch, frames, output_dim)``;
        ``forward``: ``(batch, frames, input_dim) -> (batch, output_dim)``.
    """

    is_causal = True

    def __init__(
        self,
        input_dim: int,
        hidden_sizes: Sequence[int] = (256, 256),
        output_dim: int | None = None,
        batch_norm: bool = True,
        dropout: float = 0.0,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        sizes = list(hidden_sizes)
        for name, value in [("input_dim", input_dim), ("output_dim", output_dim)] + [
            ("hidden_sizes", size) for size in sizes
        ]:
            if value is None and name == "output_dim":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must hold positive integers, got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; valid: {', '.join(ACTIVATIONS)}")
        if not sizes and output_dim is None:
            raise ValueError("an MLP needs hidden_sizes or an output_dim")
        layers: list[nn.Module] = []
        width = input_dim
        for size in sizes:
            layers.append(nn.Linear(width, size))
            if batch_norm:
                layers.append(nn.BatchNorm1d(size))
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0.0:
                layers.append(nn.Dropout(dropout))
            width = size
        if output_dim is not None:
            layers.append(nn.Linear(width, output_dim))
            width = output_dim
        self.input_dim = input_dim
        self.output_dim = width
        self.net = nn.Sequential(*layers)

    def forward_features(self, x: Tensor) -> Tensor:
        """Encode every frame.

        Raises:
            TypeError: ``x`` is not floating point.
            ValueError: ``x`` is not ``(batch, frames, input_dim)``.

        Shape:
            ``(batch, frames, input_dim) -> (batch, frames, output_dim)``.
        """
        check_frames(x, self.input_dim)
        batch, frames, _ = x.shape
        return self.net(x.reshape(batch * frames, -1)).reshape(batch, frames, self.output_dim)
