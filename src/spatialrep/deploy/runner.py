"""Run an exported streaming localizer with numpy and onnxruntime only (no torch, nothing else of ours).

This file is self-contained on purpose: a device integrator may copy it next to ``model.onnx`` and use it
without installing spatialrep. The ONNX file (written by ``spatialrep export``) holds the whole signal path
of one hop: window + DFT of the newest ``win_length`` samples of both ears (and their GCC-PHAT for models
that read it), the causal Conformer with its cached state, and the azimuth classifier. Its metadata says how
to frame the audio; this runner only cuts the incoming audio into windows, feeds the cached state back and
turns logits into azimuths.

Graph interface (one call = one hop, batch 1):

* inputs: ``samples`` ``(1, 2, win_length)`` float32 (the window's samples, oldest first) and one input per
  state tensor (``frames_seen``, ``layer{i}.keys``/``.values``/``.conv``), zeros at the start of a stream;
* outputs: ``logits`` ``(1, 1, K)`` and ``next.<name>`` for every state input, fed back on the next call.

Command line (16-bit PCM WAV, two channels, left first, at the model's rate)::

    python runner.py model.onnx recording.wav [--every 10]

Framing (the same frames as spatialrep's PyTorch front-end, ``center=False``): frame ``t`` applies the window
to samples ``[t * hop + offset, t * hop + offset + win_length)`` of the stream, where ``offset`` places the
window inside the FFT frame. A frame is computed as soon as its last windowed sample has arrived, so the
algorithmic latency is ``win_length`` samples.
"""

from __future__ import annotations

import argparse
import json
import os
import wave

import numpy as np
import onnxruntime as ort

__all__ = ["FORMAT", "StreamingLocalizer"]

FORMAT = "spatialrep-streaming-localizer/1"
"""The ``format`` metadata entry this runner reads."""


class StreamingLocalizer:
    """Azimuth of a binaural stream, hop by hop, from an ONNX file written by ``spatialrep export``.

    Args:
        path: the ``.onnx`` file.
        threads: onnxruntime intra-op threads (1 suits a device's real-time loop).

    Attributes:
        sample_rate, hop_length, win_length: Hz and samples.
        class_azimuth_deg: azimuth of each class, degrees (0 ahead, positive to the left), shape ``(K,)``.
        latency_s: algorithmic latency: the window length (no look-ahead in the model).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a spatialrep streaming localizer (or of another format version).

    Example::

        loc = StreamingLocalizer("model.onnx")
        for chunk in chunks:                      # (2, n) float32 at loc.sample_rate, any n
            logits = loc.push(chunk)              # (new frames, K)
            print(loc.azimuth_deg(logits))        # one azimuth per new frame
    """

    def __init__(self, path: str | os.PathLike[str], *, threads: int = 1) -> None:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no ONNX model at {path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            self._session = ort.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own error types for unreadable files
            raise ValueError(f"{path} is not a readable ONNX model: {exc}") from exc
        meta = self._session.get_modelmeta().custom_metadata_map
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path} is not a spatialrep streaming localizer (format {FORMAT!r})")
        self.sample_rate = int(meta["sample_rate"])
        self.hop_length = int(meta["hop_length"])
        self.win_length = int(meta["win_length"])
        self._offset = int(meta["window_offset"])
        self.class_azimuth_deg = np.asarray(json.loads(meta["class_azimuth_deg"]), dtype=np.float64)
        self.latency_s = self.win_length / self.sample_rate
        self.metadata = dict(meta)
        self._state_inputs = [i for i in self._session.get_inputs() if i.name != "samples"]
        self._output_names = [o.name for o in self._session.get_outputs()]
        self.reset()

    def reset(self) -> None:
        """Start a new stream: empty audio buffer, zero state."""
        self._state = {i.name: np.zeros(i.shape, dtype=np.float32) for i in self._state_inputs}
        self._buffer = np.zeros((2, 0), dtype=np.float32)
        self._skip = self._offset  # samples to drop before the next window starts

    def step(self, window: np.ndarray) -> np.ndarray:
        """One hop: the logits ``(K,)`` of the raw samples ``(2, win_length)`` under one window (float32, not
        yet windowed: the graph applies the window); advances the state."""
        feeds = {"samples": window[None].astype(np.float32, copy=False), **self._state}
        outputs = dict(zip(self._output_names, self._session.run(self._output_names, feeds), strict=True))
        self._state = {name: outputs[f"next.{name}"] for name in self._state}
        return np.asarray(outputs["logits"][0, 0])

    def push(self, audio: np.ndarray) -> np.ndarray:
        """Append audio ``(2, n)`` (any ``n >= 0``) and return the logits ``(new frames, K)`` it completes.

        Raises:
            ValueError: not ``(2, n)``, or non-finite samples.
        """
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 2 or audio.shape[0] != 2:
            raise ValueError(f"audio must be (2, samples) (left, right), got shape {audio.shape}")
        if not np.isfinite(audio).all():
            raise ValueError("audio contains NaN or infinite samples")
        buffer = np.concatenate((self._buffer, audio), axis=1)
        logits = []
        while True:
            dropped = min(self._skip, buffer.shape[1])
            buffer, self._skip = buffer[:, dropped:], self._skip - dropped
            if self._skip or buffer.shape[1] < self.win_length:
                break
            logits.append(self.step(buffer[:, : self.win_length]))
            self._skip = self.hop_length
        self._buffer = buffer
        return np.stack(logits) if logits else np.zeros((0, len(self.class_azimuth_deg)), np.float32)

    @staticmethod
    def posteriors(logits: np.ndarray) -> np.ndarray:
        """Softmax over the last axis (class probabilities), same shape."""
        shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return shifted / shifted.sum(axis=-1, keepdims=True)

    def azimuth_deg(self, logits: np.ndarray) -> np.ndarray:
        """The most probable class's azimuth, degrees, for each row of ``logits`` ``(..., K)``."""
        return self.class_azimuth_deg[np.argmax(logits, axis=-1)]

    def localize(self, audio: np.ndarray) -> float:
        """Azimuth (degrees) of a whole binaural clip ``(2, n)``: the class of the mean frame posterior.

        Resets the stream first. Returns NaN for a clip shorter than one window.
        """
        self.reset()
        logits = self.push(audio)
        if not len(logits):
            return float("nan")
        return float(self.class_azimuth_deg[np.argmax(self.posteriors(logits).mean(axis=0))])


def read_wav(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """A 16-bit PCM WAV file as float32 ``(channels, samples)`` in [-1, 1) and its sample rate (stdlib only).

    Raises:
        ValueError: not 16-bit PCM.
    """
    with wave.open(os.fspath(path), "rb") as handle:
        if handle.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM WAV, got {8 * handle.getsampwidth()}-bit samples")
        channels, rate = handle.getnchannels(), handle.getframerate()
        data = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2")
    return (data.reshape(-1, channels).T / 32768.0).astype(np.float32), rate


def main(argv: list[str] | None = None) -> None:
    """Print the azimuth over time and for the whole clip of a WAV file, streamed hop by hop."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("model", help="the .onnx file written by spatialrep export")
    parser.add_argument("wav", help="binaural 16-bit PCM WAV (left, right) at the model's sample rate")
    parser.add_argument("--every", type=int, default=10, help="print every N-th frame (default 10)")
    args = parser.parse_args(argv)
    localizer = StreamingLocalizer(args.model)
    audio, rate = read_wav(args.wav)
    if rate != localizer.sample_rate:
        raise SystemExit(f"error: {args.wav} is at {rate} Hz, the model expects {localizer.sample_rate} Hz")
    hop = localizer.hop_length
    logits = np.concatenate([localizer.push(audio[:, s : s + hop]) for s in range(0, audio.shape[1], hop)])
    offset = int(localizer.metadata["window_offset"])
    for t in range(0, len(logits), max(1, args.every)):
        end_s = (offset + t * hop + localizer.win_length) / rate
        print(f"{end_s:8.3f} s  {localizer.azimuth_deg(logits[t]):+6.1f} deg")
    if len(logits):
        azimuth = localizer.class_azimuth_deg[np.argmax(localizer.posteriors(logits).mean(axis=0))]
        print(f"whole clip: {azimuth:+.1f} deg ({len(logits)} frames)")


if __name__ == "__main__":
    main()
