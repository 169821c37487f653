"""Deploying a streaming localizer: ONNX export (:mod:`spatialrep.deploy.export`, needs torch) and a runner
that needs numpy and onnxruntime only (:mod:`spatialrep.deploy.runner`). See ``docs/deploy.md``.

Importing this package loads the runner only (not torch), so a device can use it without the rest of
spatialrep; the runner file can also be copied on its own.
"""

from spatialrep.deploy.runner import StreamingLocalizer

__all__ = ["StreamingLocalizer"]
