"""What the exporter's graph builders share: the ONNX versions written and a constant-initializer helper."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, numpy_helper

OPSET = 17
IR_VERSION = 8  # readable by onnxruntime >= 1.10 and most other hosts


def const(name: str, array: np.ndarray) -> TensorProto:
    array = np.asarray(array)
    return numpy_helper.from_array(array if array.flags.c_contiguous else np.ascontiguousarray(array), name)
