"""A strictly causal Conformer encoder with exact chunk-by-chunk streaming.

Each block follows Gulati et al. (2020): half-step feed-forward, multi-head self-attention, convolution
module, half-step feed-forward, LayerNorm, each wrapped in a residual connection. Three changes make it
strictly causal and let it stream exactly:

* the self-attention is masked so frame ``t`` attends to frames ``t - left_context .. t`` only (all past
  frames when ``left_context`` is ``None``);
* the depthwise convolution is padded on the left only (``kernel - 1`` zero frames);
* the convolution module normalises with LayerNorm instead of BatchNorm, so every normalisation acts on one
  frame and training batches never leak into inference.

Position information: there is no absolute positional encoding (it would tie outputs to the absolute frame
index, and a stream has no defined origin). By default each head adds an ALiBi bias ``-slope_h * (t - s)``
(Press et al., 2022) to the score of query ``t`` on key ``s``; it depends on the distance only, so it is the
same offline and streaming. The causal depthwise convolution also gives each frame its local order.
``position_bias="none"`` leaves only the convolution.

Streaming: :meth:`CausalConformer.init_state` and :meth:`CausalConformer.forward_step` process any number of
frames at a time with each layer's past keys and values (the last ``left_context`` of them when bounded) and
the last ``kernel - 1`` inputs of its depthwise convolution cached; the outputs equal the offline
:meth:`CausalConformer.forward_features` up to float rounding (eval mode; dropout is random in training).

References:
    Gulati et al., "Conformer: Convolution-augmented Transformer for Speech Recognition", Interspeech 2020.
    Press et al., "Train Short, Test Long: Attention with Linear Biases Enables Input Length Extrapolation",
    ICLR 2022.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from spatialrep.models.registry import Encoder, check_frames, register_encoder

__all__ = ["POSITION_BIASES", "CausalConformer", "ConformerLayerState", "ConformerState"]

POSITION_BIASES = ("alibi", "none")
"""The accepted values of ``position_bias``."""


@dataclass(frozen=True)
class ConformerLayerState:
    """The cache of one block.

    With unbounded left context the key/value buffers grow by doubling and new frames are written in place
    after the first ``cached`` entries, so states of one stream share storage: a state stays valid for its
    own frames, but continue a stream from its latest state only (two continuations of one state overwrite
    each other's cache).

    Shape:
        ``key_buffer``, ``value_buffer``: ``(batch, heads, capacity >= cached, d_model // heads)``;
        ``conv``: ``(batch, d_model, conv_kernel - 1)``.
    """

    key_buffer: Tensor
    value_buffer: Tensor
    cached: int
    conv: Tensor

    @property
    def keys(self) -> Tensor:
        """The cached keys, ``(batch, heads, cached, head_dim)``."""
        return self.key_buffer[:, :, : self.cached]

    @property
    def values(self) -> Tensor:
        """The cached values, ``(batch, heads, cached, head_dim)``."""
        return self.value_buffer[:, :, : self.cached]


@dataclass(frozen=True)
class ConformerState:
    """The streaming state of a :class:`CausalConformer`: one cache per block and the frames seen so far."""

    layers: tuple[ConformerLayerState, ...]
    frames: int

    @property
    def batch_size(self) -> int:
        """The batch size the state was made for."""
        return self.layers[0].conv.shape[0]


def _alibi_slopes(num_heads: int) -> Tensor:
    # The geometric sequence of the ALiBi paper, 2^(-8 h / H) for h = 1..H.
    return torch.tensor([2.0 ** (-8.0 * (h + 1) / num_heads) for h in range(num_heads)])


class _FeedForward(nn.Sequential):
    def __init__(self, d_model: int, mult: int, dropout: float) -> None:
        super().__init__(
            nn.LayerNorm(d_model),
            nn.Linear(d_model, mult * d_model),
            nn.SiLU(),
            nn.Dropout(dropout),
            nn.Linear(mult * d_model, d_model),
            nn.Dropout(dropout),
        )


_KVCache = tuple[Tensor, Tensor, int]


class _CausalSelfAttention(nn.Module):
    def __init__(
        self, d_model: int, num_heads: int, dropout: float, left_context: int | None, alibi: bool
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.left_context = left_context
        self.dropout = dropout
        self.norm = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.slopes: Tensor | None
        self.register_buffer("slopes", _alibi_slopes(num_heads) if alibi else None, persistent=False)

    def bias(self, q_pos: Tensor, k_pos: Tensor, dtype: torch.dtype) -> Tensor:
        """Additive score bias: ``-inf`` outside the causal window, minus the ALiBi distance term inside.

        Shape:
            ``(queries,), (keys,) -> (heads or 1, queries, keys)``.
        """
        dist = q_pos[:, None] - k_pos[None, :]
        allowed = dist >= 0
        if self.left_context is not None:
            allowed &= dist <= self.left_context
        bias = torch.zeros(dist.shape, dtype=dtype, device=dist.device).masked_fill(~allowed, -math.inf)
        if self.slopes is None:
            return bias[None]
        return bias[None] - self.slopes.to(dtype)[:, None, None] * dist.clamp(min=0).to(dtype)[None]

    def forward(self, x: Tensor, start: int, cache: _KVCache | None) -> tuple[Tensor, _KVCache | None]:
        batch, frames, d_model = x.shape
        q, k, v = (
            self.qkv(self.norm(x))
            .view(batch, frames, 3, self.num_heads, d_model // self.num_heads)
            .permute(2, 0, 3, 1, 4)
        )
        new_cache = None
        if cache is not None:
            k, v, new_cache = self._extend(cache, k, v)
        q_pos = torch.arange(start, start + frames, device=x.device)
        k_pos = torch.arange(start + frames - k.shape[2], start + frames, device=x.device)
        out = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=self.bias(q_pos, k_pos, x.dtype),
            dropout_p=self.dropout if self.training else 0.0,
        )
        return self.out(out.transpose(1, 2).reshape(batch, frames, d_model)), new_cache

    def _extend(self, cache: _KVCache, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor, _KVCache]:
        """Keys and values to attend to (cache + new) and the cache for the next call."""
        key_buffer, value_buffer, cached = cache
        total = cached + k.shape[2]
        if self.left_context is not None:
            # Bounded: concatenate and keep the last left_context frames (small copies).
            keys = torch.cat((key_buffer[:, :, :cached], k), dim=2)
            values = torch.cat((value_buffer[:, :, :cached], v), dim=2)
            first = max(total - self.left_context, 0)
            return keys, values, (keys[:, :, first:], values[:, :, first:], total - first)
        # Unbounded: append in place into a buffer that doubles when full (amortised O(1) per frame).
        if total > key_buffer.shape[2]:
            capacity = max(total, 2 * key_buffer.shape[2], 64)
            grown_k = key_buffer.new_empty(*key_buffer.shape[:2], capacity, key_buffer.shape[3])
            grown_v = torch.empty_like(grown_k)
            grown_k[:, :, :cached] = key_buffer[:, :, :cached]
            grown_v[:, :, :cached] = value_buffer[:, :, :cached]
            key_buffer, value_buffer = grown_k, grown_v
        key_buffer[:, :, cached:total] = k
        value_buffer[:, :, cached:total] = v
        return key_buffer[:, :, :total], value_buffer[:, :, :total], (key_buffer, value_buffer, total)


_SMALL_CHUNK = 8


class _CausalConvModule(nn.Module):
    def __init__(self, d_model: int, kernel: int, dropout: float) -> None:
        super().__init__()
        self.kernel = kernel
        self.norm = nn.LayerNorm(d_model)
        self.pointwise_in = nn.Linear(d_model, 2 * d_model)
        self.depthwise = nn.Conv1d(d_model, d_model, kernel, groups=d_model)
        self.conv_norm = nn.LayerNorm(d_model)
        self.pointwise_out = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, past: Tensor) -> tuple[Tensor, Tensor]:
        h = F.glu(self.pointwise_in(self.norm(x)), dim=-1).transpose(1, 2)
        h = torch.cat((past, h), dim=2)
        new_past = h[:, :, h.shape[2] - (self.kernel - 1) :]
        if h.shape[2] - (self.kernel - 1) <= _SMALL_CHUNK:
            # Streaming steps: a weighted sum over the window beats a convolution call by ~10x.
            windows = h.unfold(2, self.kernel, 1)
            h = (windows * self.depthwise.weight).sum(-1).transpose(1, 2)
            if self.depthwise.bias is not None:
                h = h + self.depthwise.bias
        else:
            h = self.depthwise(h).transpose(1, 2)
        return self.dropout(self.pointwise_out(F.silu(self.conv_norm(h)))), new_past


class _ConformerBlock(nn.Module):
    def __init__(
        self,
        d_model: int,
        num_heads: int,
        ff_mult: int,
        kernel: int,
        dropout: float,
        left_context: int | None,
        alibi: bool,
    ) -> None:
        super().__init__()
        self.ff1 = _FeedForward(d_model, ff_mult, dropout)
        self.attn = _CausalSelfAttention(d_model, num_heads, dropout, left_context, alibi)
        self.attn_dropout = nn.Dropout(dropout)
        self.conv = _CausalConvModule(d_model, kernel, dropout)
        self.ff2 = _FeedForward(d_model, ff_mult, dropout)
        self.norm = nn.LayerNorm(d_model)

    def forward(
        self, x: Tensor, start: int, state: ConformerLayerState, streaming: bool
    ) -> tuple[Tensor, ConformerLayerState | None]:
        x = x + 0.5 * self.ff1(x)
        cache = (state.key_buffer, state.value_buffer, state.cached) if streaming else None
        attended, new_cache = self.attn(x, start, cache)
        x = x + self.attn_dropout(attended)
        conv, conv_past = self.conv(x, state.conv)
        x = x + conv
        x = self.norm(x + 0.5 * self.ff2(x))
        if new_cache is None:
            return x, None
        return x, ConformerLayerState(new_cache[0], new_cache[1], new_cache[2], conv_past)


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


@register_encoder("causal_conformer")
class CausalConformer(Encoder):
    """Strictly causal Conformer over frame sequences (e.g. flattened binaural real/imaginary STFT frames).

    Input frames are LayerNorm-ed (optional, per frame), projected to ``d_model`` and passed through
    ``num_layers`` causal Conformer blocks. Output frame ``t`` depends on input frames ``<= t`` only (in
    eval mode; at most ``left_context`` frames back per layer when bounded).

    Args:
        input_dim: features per input frame (``channels * 2 * freq`` for
            :func:`spatialrep.features.functional.stft_frames_to_sequence`).
        d_model: width of the blocks and of the output.
        num_layers: number of Conformer blocks (2 in the SFD paper).
        num_heads: attention heads; must divide ``d_model``.
        ff_mult: feed-forward hidden size as a multiple of ``d_model``.
        conv_kernel: depthwise convolution kernel size in frames (left context ``conv_kernel - 1``).
        dropout: dropout probability in the blocks.
        left_context: past frames each attention query sees besides its own; ``None`` for all of them.
        position_bias: ``"alibi"`` (distance bias per head) or ``"none"``.
        input_norm: LayerNorm each input frame before the projection.

    Raises:
        ValueError: an argument is out of range or ``position_bias`` is unknown.

    Shape:
        ``forward_features``: ``(batch, frames, input_dim) -> (batch, frames, d_model)``;
        ``forward``: ``(batch, frames, input_dim) -> (batch, d_model)``.
    """

    is_causal = True

    def __init__(
        self,
        input_dim: int,
        d_model: int = 256,
        num_layers: int = 2,
        num_heads: int = 4,
        ff_mult: int = 4,
        conv_kernel: int = 15,
        dropout: float = 0.1,
        left_context: int | None = None,
        position_bias: str = "alibi",
        input_norm: bool = True,
    ) -> None:
        super().__init__()
        for name, value, minimum in (
            ("input_dim", input_dim, 1),
            ("d_model", d_model, 1),
            ("num_layers", num_layers, 1),
            ("num_heads", num_heads, 1),
            ("ff_mult", ff_mult, 1),
            ("conv_kernel", conv_kernel, 1),
        ):
            _check_int(name, value, minimum)
        if d_model % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide d_model={d_model}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if left_context is not None:
            _check_int("left_context", left_context, 0)
        if position_bias not in POSITION_BIASES:
            raise ValueError(f"unknown position_bias {position_bias!r}; valid: {', '.join(POSITION_BIASES)}")
        self.input_dim = input_dim
        self.output_dim = d_model
        self.d_model = d_model
        self.num_heads = num_heads
        self.conv_kernel = conv_kernel
        self.left_context = left_context
        self.input_norm = nn.LayerNorm(input_dim) if input_norm else nn.Identity()
        self.input_proj = nn.Linear(input_dim, d_model)
        self.input_dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList(
            _ConformerBlock(
                d_model, num_heads, ff_mult, conv_kernel, dropout, left_context, position_bias == "alibi"
            )
            for _ in range(num_layers)
        )

    def init_state(
        self, batch_size: int, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> ConformerState:
        """The state before the first frame: empty attention caches, zero convolution history.

        Raises:
            ValueError: ``batch_size`` is not a positive integer.
        """
        _check_int("batch_size", batch_size, 1)
        reference = self.input_proj.weight
        device = reference.device if device is None else torch.device(device)
        dtype = reference.dtype if dtype is None else dtype
        head_dim = self.d_model // self.num_heads
        empty = torch.zeros(batch_size, self.num_heads, 0, head_dim, device=device, dtype=dtype)
        conv = torch.zeros(batch_size, self.d_model, self.conv_kernel - 1, device=device, dtype=dtype)
        return ConformerState(tuple(ConformerLayerState(empty, empty, 0, conv) for _ in self.layers), 0)

    def _run(self, x: Tensor, state: ConformerState, streaming: bool) -> tuple[Tensor, ConformerState]:
        h = self.input_dropout(self.input_proj(self.input_norm(x)))
        layer_states = []
        for layer, layer_state in zip(self.layers, state.layers, strict=True):
            h, new_layer_state = layer(h, state.frames, layer_state, streaming)
            layer_states.append(new_layer_state)
        if not streaming:
            return h, state
        return h, ConformerState(tuple(layer_states), state.frames + x.shape[1])

    def forward_features(self, x: Tensor) -> Tensor:
        """Frame embeddings of whole sequences (the offline causal forward).

        Raises:
            TypeError: ``x`` is not floating point.
            ValueError: ``x`` is not ``(batch, frames, input_dim)``.

        Shape:
            ``(batch, frames, input_dim) -> (batch, frames, d_model)``.
        """
        check_frames(x, self.input_dim)
        return self._run(x, self.init_state(x.shape[0], x.device, x.dtype), streaming=False)[0]

    def forward_step(self, chunk: Tensor, state: ConformerState) -> tuple[Tensor, ConformerState]:
        """Process the next frames of a stream; ``state`` keeps describing the frames before ``chunk``.

        Args:
            chunk: the next frames (any number >= 1).
            state: from :meth:`init_state` or the previous call.

        Returns:
            The frame embeddings of ``chunk`` and the state after it.

        Raises:
            TypeError: ``chunk`` is not floating point.
            ValueError: ``chunk`` is not ``(batch, frames, input_dim)``, or the state belongs to another
                batch size or layer count.

        Shape:
            ``(batch, frames, input_dim) -> (batch, frames, d_model)``.
        """
        check_frames(chunk, self.input_dim, "chunk")
        if len(state.layers) != len(self.layers):
            raise ValueError(f"state has {len(state.layers)} layers, the model {len(self.layers)}")
        if state.batch_size != chunk.shape[0]:
            raise ValueError(f"state is for batch size {state.batch_size}, chunk has {chunk.shape[0]}")
        return self._run(chunk, state, streaming=True)

    def forward_streaming(self, x: Tensor, chunk_frames: int) -> Tensor:
        """Run :meth:`forward_step` over ``x`` in chunks of ``chunk_frames`` frames and join the outputs.

        Raises:
            ValueError: ``chunk_frames`` is not a positive integer, or ``x`` has the wrong shape.

        Shape:
            ``(batch, frames, input_dim) -> (batch, frames, d_model)``.
        """
        _check_int("chunk_frames", chunk_frames, 1)
        check_frames(x, self.input_dim)
        state = self.init_state(x.shape[0], x.device, x.dtype)
        outputs = []
        for start in range(0, x.shape[1], chunk_frames):
            out, state = self.forward_step(x[:, start : start + chunk_frames], state)
            outputs.append(out)
        return torch.cat(outputs, dim=1)
