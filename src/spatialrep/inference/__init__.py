"""Using trained models: localize files and folders with any localizer (trained or classic), by protocol."""

from spatialrep.inference.localize import (
    audio_files,
    load_localizer,
    localize_file,
    localize_paths,
    write_rows,
)

__all__ = ["audio_files", "load_localizer", "localize_file", "localize_paths", "write_rows"]
