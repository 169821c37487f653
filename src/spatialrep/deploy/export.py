"""Export a trained SFD localizer as one ONNX step function, run by :mod:`spatialrep.deploy.runner`.

The exported graph computes one hop: the windowed DFT of the newest ``win_length`` samples of both ears (a
matrix product with the window and the frame's phase folded in, so it equals the front-end's ``torch.stft``
frame with ``center=False``) and, for ``frontend.kind="gcc_phat"``, the frame's GCC-PHAT (cross-spectrum,
unit phasors, inverse DFT at the lags as another matrix product); then the causal Conformer's step and the
frame-wise azimuth classifier. The cached
state is explicit and of fixed size, which is what a device needs (no allocation per hop):

* ``frames_seen`` ``(1,)``: frames before this one, saturating at ``context`` (marks the empty cache slots
  at the start of a stream);
* per block ``layer{i}.keys`` / ``layer{i}.values`` ``(1, heads, context, head_dim)``: the keys and values of
  the last ``context`` frames (oldest first), and ``layer{i}.conv`` ``(1, d_model, conv_kernel - 1)``: the
  depthwise convolution's past inputs.

Attention looks back ``context`` frames at most, as :meth:`SfdLocalizer.open_stream` with ``context_s``: the
outputs equal that PyTorch stream's to float rounding (tested). The block maths below mirror
:mod:`spatialrep.models.conformer` for one frame with a padded cache; the equality tests guard them.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from spatialrep import __version__
from spatialrep.deploy.runner import FORMAT
from spatialrep.features.functional import DEFAULT_EPS, make_window
from spatialrep.io.atomic import atomic_path
from spatialrep.methods.sfd import SfdLocalizer
from spatialrep.models import CausalConformer
from spatialrep.train import load_checkpoint
from spatialrep.train.checkpoint import checkpoint_dir

__all__ = [
    "DEFAULT_CONTEXT_S",
    "context_frames",
    "export_onnx",
    "load_streaming_sfd",
    "quantize_int8",
    "step_module",
]

DEFAULT_CONTEXT_S = 1.0
"""Default attention context of an export, seconds (100 frames at a 10 ms hop; SFD trains on 1 s clips)."""

OPSET = 18

_FRONTEND_TENSORS = {"samples", "dft", "gcc_cos", "gcc_sin"}
"""The front-end's input and matrices: the products reading them stay float32 in int8 exports."""


def _missing_extra() -> ImportError:
    return ImportError("export needs the deploy extra: pip install 'spatialrep[deploy]' (onnx, onnxruntime)")


def load_streaming_sfd(run: str | os.PathLike[str]) -> SfdLocalizer:
    """The SFD localizer of a trained run (its folder, or ``best/`` / ``last/``), checked to stream.

    Raises:
        FileNotFoundError: no such folder or no checkpoint in it.
        ValueError: not an SFD localizer, an encoder other than the causal Conformer, or centred frames.
    """
    folder = Path(run)
    if not folder.is_dir():
        raise FileNotFoundError(f"--model {run}: no such run folder")
    model, _ = load_checkpoint(checkpoint_dir(folder))
    if not isinstance(model, SfdLocalizer):
        raise ValueError(
            f"--model {run} holds a {type(model).__name__}; export needs a fine-tuned SFD localizer "
            "(sfd_localizer checkpoint; see docs/sfd.md)"
        )
    _check_streamable(model, str(run))
    return model.float().eval()


def _check_streamable(model: SfdLocalizer, name: str) -> None:
    frontend = model.config.frontend
    if not isinstance(model.encoder, CausalConformer):
        raise ValueError(
            f"{name}: encoder {model.config.encoder.name!r} cannot stream; export needs the "
            "causal_conformer encoder"
        )
    if frontend.center:
        raise ValueError(f"{name}: frontend.center=True frames look ahead and cannot stream")
    if model.encoder.conv_kernel < 2:
        raise ValueError(f"{name}: export needs conv_kernel >= 2, got {model.encoder.conv_kernel}")


def context_frames(model: SfdLocalizer, context_s: float) -> int:
    """Frames the exported attention looks back: ``context_s`` in hops, or the encoder's own bound if smaller.

    The same rule as :meth:`SfdLocalizer.open_stream`.

    Raises:
        ValueError: ``context_s`` is not a positive number of seconds, or an encoder with ``left_context=0``.
    """
    if not (isinstance(context_s, int | float) and math.isfinite(context_s) and context_s > 0):
        raise ValueError(f"--context-s must be positive seconds, got {context_s!r}")
    frames = max(1, round(context_s / model.config.frontend.hop_s))
    own = model.config.encoder.kwargs.get("left_context")
    if own == 0:
        raise ValueError("the encoder attends to the current frame only (left_context=0): nothing to cache")
    return frames if own is None else min(own, frames)


def _gcc_matrices(model: SfdLocalizer) -> tuple[Tensor, Tensor]:
    """``(F, 2 max_lag + 1)`` twice: the real and imaginary parts of a cross-spectrum -> its inverse real DFT
    at lags ``-max_lag .. max_lag`` (``torch.fft.irfft`` at those lags; it ignores the imaginary parts of the
    DC and Nyquist bins, whose sines vanish here too)."""
    fe = model.config.frontend
    k = torch.arange(fe.num_freqs, dtype=torch.float64)
    lags = torch.arange(-fe.max_lag, fe.max_lag + 1, dtype=torch.float64)
    weight = torch.full_like(k, 2.0)
    weight[0] = 1.0
    if fe.n_fft % 2 == 0:
        weight[-1] = 1.0
    phase = 2 * math.pi * torch.outer(k, lags) / fe.n_fft
    scale = (weight / fe.n_fft)[:, None]
    return (scale * phase.cos()).float(), (-scale * phase.sin()).float()


def _dft_matrix(model: SfdLocalizer) -> Tensor:
    """``(win_length, 2 F)``: windowed samples -> real parts then imaginary parts of the frame's rfft."""
    fe = model.config.frontend
    offset = (fe.n_fft - fe.win_length) // 2  # torch.stft centres a shorter window in the frame
    window = make_window(fe.window, fe.win_length, dtype=torch.float64)
    n = torch.arange(fe.win_length, dtype=torch.float64) + offset
    k = torch.arange(fe.num_freqs, dtype=torch.float64)
    phase = 2 * math.pi * torch.outer(n, k) / fe.n_fft
    return torch.cat((window[:, None] * phase.cos(), -window[:, None] * phase.sin()), dim=1).float()


class _Step(nn.Module):
    """One hop of an SFD localizer with a fixed-size cache (see the module docstring for the interface)."""

    dft: Tensor
    gcc_cos: Tensor
    gcc_sin: Tensor
    eps: Tensor
    distance: Tensor

    def __init__(self, model: SfdLocalizer, context: int) -> None:
        super().__init__()
        encoder = model.encoder
        assert isinstance(encoder, CausalConformer)
        self.encoder = encoder
        self.classifier = model.classifier.head.linear
        self.context = context
        self.register_buffer("dft", _dft_matrix(model))
        self.gcc_phat = model.config.frontend.kind == "gcc_phat"
        if self.gcc_phat:
            gcc_cos, gcc_sin = _gcc_matrices(model)
            self.register_buffer("gcc_cos", gcc_cos)
            self.register_buffer("gcc_sin", gcc_sin)
            self.register_buffer("eps", torch.tensor([DEFAULT_EPS]))
        # Distance (frames) of each key to the current frame: the cache oldest first, then the frame itself.
        self.register_buffer("distance", torch.arange(context, -1, -1, dtype=torch.float32))

    def forward(self, samples: Tensor, frames_seen: Tensor, *caches: Tensor) -> tuple[Tensor, ...]:
        spectrum = samples @ self.dft  # (1, 2, 2F): per ear, real then imaginary parts
        if self.gcc_phat:
            x = self._gcc_phat(spectrum)
        else:
            x = spectrum.reshape(1, 1, -1)  # feature index (ear * 2 + part) * F + bin, as the front-end's
        h = self.encoder.input_proj(self.encoder.input_norm(x))
        allowed = self.distance <= frames_seen  # empty slots at the start of a stream are masked
        new_caches: list[Tensor] = []
        for i, block in enumerate(self.encoder.layers):
            keys, values, conv = caches[3 * i : 3 * i + 3]
            h, keys, values, conv = _block_step(block, h, keys, values, conv, self.distance, allowed)
            new_caches += [keys, values, conv]
        logits = self.classifier(h)
        return (logits, torch.clamp(frames_seen + 1, max=float(self.context)), *new_caches)

    def _gcc_phat(self, spectrum: Tensor) -> Tensor:
        """The frame's GCC-PHAT of left relative to right, lags ``-max_lag .. max_lag``, ``(1, 1, lags)``
        (:func:`~spatialrep.features.functional.gcc_from_stft` with ``phat=True``)."""
        real, imag = spectrum.chunk(2, dim=-1)  # (1, 2, F) each
        cross_real = real[:, 0] * real[:, 1] + imag[:, 0] * imag[:, 1]  # left * conj(right)
        cross_imag = imag[:, 0] * real[:, 1] - real[:, 0] * imag[:, 1]
        # eps as a tensor: the exporter's optimiser drops a Python-float ``+ 1e-12`` (silence then gives NaN)
        magnitude = torch.sqrt(cross_real * cross_real + cross_imag * cross_imag) + self.eps
        return ((cross_real / magnitude) @ self.gcc_cos + (cross_imag / magnitude) @ self.gcc_sin)[:, None]


def _block_step(
    block: Any, x: Tensor, keys: Tensor, values: Tensor, conv: Tensor, distance: Tensor, allowed: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One frame ``(1, 1, d_model)`` through a Conformer block; returns it and the shifted caches.

    ``block`` is a :class:`CausalConformer` block (its submodules are read as in its own ``forward``).
    """
    x = x + 0.5 * block.ff1(x)
    attn = block.attn
    heads = attn.num_heads
    d_model = x.shape[-1]
    q, k, v = attn.qkv(attn.norm(x)).reshape(1, 1, 3, heads, d_model // heads).permute(2, 0, 3, 1, 4)
    keys = torch.cat((keys, k), dim=2)  # (1, heads, context + 1, head_dim)
    values = torch.cat((values, v), dim=2)
    scores = q @ keys.transpose(-1, -2) / math.sqrt(d_model // heads)  # (1, heads, 1, context + 1)
    # (heads or 1, 1, keys): ALiBi's distance penalty per head, as CausalConformer's attention bias
    bias = torch.zeros_like(distance) if attn.slopes is None else -attn.slopes[:, None, None] * distance
    scores = scores + torch.where(allowed, bias, -math.inf)
    attended = (torch.softmax(scores, dim=-1) @ values).transpose(1, 2).reshape(1, 1, d_model)
    x = x + attn.out(attended)
    cm = block.conv
    h = F.glu(cm.pointwise_in(cm.norm(x)), dim=-1).transpose(1, 2)  # (1, d_model, 1)
    window = torch.cat((conv, h), dim=2)  # (1, d_model, kernel)
    h = (window * cm.depthwise.weight[:, 0, :]).sum(-1)
    if cm.depthwise.bias is not None:
        h = h + cm.depthwise.bias
    x = x + cm.pointwise_out(F.silu(cm.conv_norm(h[:, None, :])))
    x = block.norm(x + 0.5 * block.ff2(x))
    return x, keys[:, :, 1:], values[:, :, 1:], window[:, :, 1:]


def step_module(model: SfdLocalizer, context: int) -> tuple[nn.Module, tuple[Tensor, ...], list[str]]:
    """The step module, example inputs (a zero state) and the state's names, in input order."""
    _check_streamable(model, "model")
    encoder = model.encoder
    assert isinstance(encoder, CausalConformer)
    head_dim = encoder.d_model // encoder.num_heads
    names = ["frames_seen"]
    state: list[Tensor] = [torch.zeros(1)]
    for i in range(len(encoder.layers)):
        names += [f"layer{i}.keys", f"layer{i}.values", f"layer{i}.conv"]
        state += [
            torch.zeros(1, encoder.num_heads, context, head_dim),
            torch.zeros(1, encoder.num_heads, context, head_dim),
            torch.zeros(1, encoder.d_model, encoder.conv_kernel - 1),
        ]
    samples = torch.zeros(1, 2, model.config.frontend.win_length)
    return _Step(model, context).eval(), (samples, *state), names


def _metadata(model: SfdLocalizer, context: int, source: str) -> dict[str, str]:
    fe = model.config.frontend
    return {
        "format": FORMAT,
        "sample_rate": str(fe.sample_rate),
        "hop_length": str(fe.hop_length),
        "win_length": str(fe.win_length),
        "window_offset": str((fe.n_fft - fe.win_length) // 2),
        "context_frames": str(context),
        "class_azimuth_deg": json.dumps(np.degrees(model.grid.azimuths).round(6).tolist()),
        "weights": "float32",
        "model_config": json.dumps(model.config.to_dict()),
        "source": source,
        "spatialrep_version": __version__,
    }


def _onnx_proto(module: nn.Module, inputs: tuple[Tensor, ...], names: list[str]) -> Any:
    """The ONNX model of ``module`` (torch.export-based exporter, quiet)."""
    with (
        torch.no_grad(),
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
        _quiet_logging(),
    ):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module,
            inputs,
            input_names=["samples", *names],
            output_names=["logits", *(f"next.{name}" for name in names)],
            opset_version=OPSET,
            dynamo=True,
            verbose=False,
        )
    assert program is not None
    return program.model_proto


@contextlib.contextmanager
def _quiet_logging() -> Iterator[None]:
    """No log records below ERROR while the exporter and quantiser run (their passes log at INFO)."""
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def quantize_int8(
    float_onnx: str | os.PathLike[str], out: str | os.PathLike[str], *, per_channel: bool = True
) -> Path:
    """Write an int8 copy of an exported float32 model (onnxruntime dynamic quantisation) to ``out``.

    The weights of the matrix products become int8, one scale per output channel (activations are quantised
    per call, from their range; per-tensor weight scales moved the test MAE of a weak SFD model by 5°,
    per-channel ones by 0.3°, for 14 % more time per hop: docs/deploy.md);
    the front-end's DFT matrix reads the raw samples and stays float32 (it is cheap, and level-exact). The
    metadata is kept, with ``weights`` set to int8. Written under a temporary name, then renamed.
    ``per_channel=False``: one scale per weight matrix (smaller, slightly faster, less accurate).

    Raises:
        ImportError: the deploy extra is not installed.
    """
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise _missing_extra() from exc
    proto = onnx.load(str(float_onnx))
    frontend_nodes = [node.name for node in proto.graph.node if _FRONTEND_TENSORS & set(node.input)]
    out = Path(out)
    with atomic_path(out) as tmp, _quiet_logging():  # its advice to pre-process first is logged
        quantize_dynamic(
            Path(float_onnx),
            tmp,
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            nodes_to_exclude=frontend_nodes,
        )
        quantized = onnx.load(str(tmp))
        props = {p.key: p.value for p in proto.metadata_props}
        scales = "per-channel" if per_channel else "per-tensor"
        props["weights"] = f"int8 (dynamic quantisation, {scales} weights)"
        del quantized.metadata_props[:]
        onnx.helper.set_model_props(quantized, props)
        onnx.save(quantized, str(tmp))
    return out


def export_onnx(
    model: SfdLocalizer | str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    int8: bool = False,
    context_s: float = DEFAULT_CONTEXT_S,
) -> Path:
    """Write the streaming localizer as one ONNX step function (and its framing as metadata) to ``out``.

    Args:
        model: an :class:`SfdLocalizer` or a trained run's folder.
        out: the ``.onnx`` file; written under a temporary name and renamed, so a failure leaves nothing.
        int8: quantise the weights of the matrix products to int8 (onnxruntime dynamic quantisation; the
            front-end's DFT stays float32).
        context_s: attention context, seconds (:func:`context_frames`).

    Raises:
        ImportError: the deploy extra (onnx, onnxruntime) is not installed.
        FileNotFoundError, ValueError: see :func:`load_streaming_sfd`; a bad ``context_s``.
    """
    try:
        import onnx
    except ImportError as exc:
        raise _missing_extra() from exc
    source = str(model) if not isinstance(model, SfdLocalizer) else "in-memory model"
    if not isinstance(model, SfdLocalizer):
        model = load_streaming_sfd(model)
    context = context_frames(model, context_s)
    was_training = model.training
    try:
        module, inputs, names = step_module(model.float().eval(), context)
        proto = _onnx_proto(module, inputs, names)
    finally:
        model.train(was_training)
    onnx.helper.set_model_props(proto, _metadata(model, context, source))
    out = Path(out)
    if not int8:
        with atomic_path(out) as tmp:
            onnx.save(proto, str(tmp))
        return out
    with tempfile.TemporaryDirectory() as scratch:
        float_path = Path(scratch) / "float32.onnx"
        onnx.save(proto, str(float_path))
        quantize_int8(float_path, out)
    return out
