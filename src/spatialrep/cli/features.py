"""``spatialrep features``: cache the feature stack of a dataset, or draw the features of one example.

spatialrep features DATASET_DIR --stack binaural_default [--set key=value ...] [--signal noisy] [--out DIR]
spatialrep features FILE_OR_DATASET --plot out.png [--example ID_OR_INDEX]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from spatialrep.io.audio import read_audio

if TYPE_CHECKING:
    from torch import Tensor

    from spatialrep.features.frontend import FeatureConfig

log = logging.getLogger(__name__)

_AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aif", ".aiff", ".mp3")


def _config(args: argparse.Namespace) -> FeatureConfig:
    from spatialrep.config import ConfigError, load_config
    from spatialrep.features.frontend import FeatureConfig, feature_preset, list_feature_presets

    if args.config is not None:
        return load_config(FeatureConfig, args.config, args.set)
    if args.stack not in list_feature_presets():
        raise ConfigError(f"unknown feature stack {args.stack!r}; valid: {', '.join(list_feature_presets())}")
    return load_config(FeatureConfig, feature_preset(args.stack).to_dict(), args.set)


def _example(source: Path, signal: str, example: str | None, split: str | None) -> tuple[Tensor, str]:
    """``(waveform, title)`` of one dataset example, by id or row index (default: the first)."""
    from spatialrep.data.datasets import ManifestDataset

    data = ManifestDataset(source, split=split, signals=[signal], check_files=False)
    index = 0
    if example is not None:
        ids = [str(r["id"]) for r in data.rows]
        if example in ids:
            index = ids.index(example)
        elif example.isdigit() and int(example) < len(ids):
            index = int(example)
        else:
            raise ValueError(
                f"no example {example!r} in {data.manifest} (ids like {ids[0]!r}, or 0..{len(ids) - 1})"
            )
    item = data[index]
    return item[signal].double(), f"{data.rows[index]['id']} ({signal}) of {data.root}"


def run_plot(args: argparse.Namespace) -> int:
    import torch

    from spatialrep.features.frontend import FeatureFrontEnd
    from spatialrep.features.plot import save_feature_plot
    from spatialrep.io.atomic import atomic_path

    config = _config(args)
    source = Path(args.input)
    if source.is_file() and source.suffix.lower() in _AUDIO_SUFFIXES:
        audio, rate = read_audio(source)
        if rate != config.sample_rate:
            raise ValueError(
                f"{source} is at {rate} Hz but the feature stack expects {config.sample_rate} Hz; resample "
                f"it or --set sample_rate={rate}"
            )
        x, title = torch.from_numpy(audio), str(source)
    else:
        x, title = _example(source, args.signal, args.example, args.split)
    if x.shape[0] != config.num_channels:
        raise ValueError(
            f"{title} has {x.shape[0]} channels but the feature stack expects {config.num_channels}; choose "
            "another --stack"
        )
    out = Path(args.plot)
    fmt = out.suffix.lstrip(".").lower() or "png"
    with atomic_path(out) as tmp:
        save_feature_plot(FeatureFrontEnd(config), x, tmp, title=title, format=fmt)
    log.info("wrote %s", out)
    return 0


def run_cache(args: argparse.Namespace) -> int:
    import torch

    from spatialrep.data.feature_cache import cache_features

    source = Path(args.input)
    if source.is_file() and source.suffix.lower() in _AUDIO_SUFFIXES:
        raise ValueError(f"{source} is an audio file: caching needs a dataset folder; use --plot to draw it")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    config = _config(args)
    stack = args.stack if args.config is None else Path(args.config).stem
    report = cache_features(
        source,
        config,
        args.out,
        signal=args.signal,
        split=args.split,
        stack=stack,
        overwrite=args.overwrite,
        batch_size=args.batch_size,
        progress=not args.quiet,
    )
    log.info(
        "%d example(s) computed, %d already cached -> %s (config hash %s)",
        report.computed,
        report.skipped,
        report.out,
        report.info["config_hash"],
    )
    return 0


def run(args: argparse.Namespace) -> int:
    if args.plot is not None:
        return run_plot(args)
    return run_cache(args)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    from spatialrep.features.frontend import list_feature_presets

    parser = subparsers.add_parser(
        "features",
        help="cache the feature stack of a dataset, or plot one example's features",
        description="Compute the feature stack (FeatureConfig) of every example of a dataset and cache it as "
        "one .safetensors per example plus features.json (config and hash; a stale cache is refused) and "
        "index.csv; reruns skip finished examples. With --plot, draw one example's features (a dataset "
        "example or a plain audio file) to a PNG instead.",
    )
    parser.add_argument("input", help="dataset folder (or manifest CSV); with --plot also an audio file")
    parser.add_argument(
        "--stack",
        default="binaural_default",
        help=f"feature preset: {', '.join(list_feature_presets())} (default: binaural_default)",
    )
    parser.add_argument("--config", help="YAML/JSON FeatureConfig file instead of --stack")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a FeatureConfig field (repeatable)",
    )
    parser.add_argument("--signal", default="noisy", help="which manifest signal to use (default: noisy)")
    parser.add_argument("--split", help="only this split (train, val, test)")
    parser.add_argument("--out", help="cache folder (default: DATASET/features/<stack>-<signal>)")
    parser.add_argument("--overwrite", action="store_true", help="replace a stale cache in --out")
    parser.add_argument("--batch-size", type=_positive, default=16, help="examples per batch (default 16)")
    parser.add_argument("--threads", type=_positive, help="torch CPU threads")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--plot", metavar="PNG", help="draw one example's features to this image instead")
    parser.add_argument(
        "--example", help="with --plot on a dataset: example id or row index (default: first)"
    )
    parser.set_defaults(func=run)
