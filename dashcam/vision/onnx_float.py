"""Dynamic-int8 ONNX models rewritten as float32 graphs, cached per source file.

onnxruntime's dynamic quantization (``quantize_dynamic``) leaves a graph where every Conv / MatMul is
``DynamicQuantizeLinear -> ConvInteger|MatMulInteger -> Cast -> Mul(x_scale * w_scale)``. On a small CPU the
integer kernels plus the per-layer re-quantization of activations are several times slower than float kernels
that onnxruntime can fuse (Conv + bias + activation). The weights stay the int8 ones, dequantized once, so the
float graph computes what the int8 one approximates: outputs differ only by the activation rounding removed.

The converted file is built on the machine that runs it and cached under the user cache directory, keyed by
the source file's sha256 (like a TensorRT engine: never committed, never written next to shared models).
"""

from __future__ import annotations

import logging
import mmap
import os
from pathlib import Path
from typing import Any

import numpy as np

from dashcam.files import file_digest
from dashcam.settings import read_env

log = logging.getLogger(__name__)

# Bump when the rewrite changes: older cached files are then rebuilt.
CONVERTER_VERSION = 1
_INTEGER_OPS = {"ConvInteger", "MatMulInteger"}


class DequantizeError(RuntimeError):
    """The graph does not have the dynamic-quantization pattern this module rewrites."""


def cache_dir() -> Path:
    """Where converted models live: $DASHCAM_CACHE_DIR/onnx_float, else $XDG_CACHE_HOME or ~/.cache."""
    root = read_env().cache_dir
    if root:
        return root.expanduser() / "onnx_float"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "dashcam" / "onnx_float"


def looks_dynamic_int8(path: Path) -> bool:
    """Whether a model file names an integer Conv/MatMul op: a byte scan, without the onnx package."""
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return any(data.find(op.encode()) >= 0 for op in _INTEGER_OPS)


def is_dynamic_int8(model: Any) -> bool:
    """Whether an onnx ModelProto holds integer Conv/MatMul nodes fed by DynamicQuantizeLinear."""
    return any(n.op_type in _INTEGER_OPS for n in model.graph.node)


def dequantize_model(model: Any) -> Any:
    """A copy of ``model`` (onnx ModelProto) with each dynamic-int8 Conv/MatMul chain made float32.

    Each ``ConvInteger|MatMulInteger -> Cast -> Mul(scale)`` becomes one Conv/MatMul on the float input of the
    DynamicQuantizeLinear with weights ``(w_q - w_zp) * w_scale``; the bias Add after it is left as is.
    Raises DequantizeError when a chain does not have that shape.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list[Any]] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    def const(name: str) -> np.ndarray:
        if name not in inits:
            raise DequantizeError(f"{name!r} is not an initializer")
        return numpy_helper.to_array(inits[name])

    def only_consumer(name: str, op: str) -> Any:
        users = consumers.get(name, [])
        if len(users) != 1 or users[0].op_type != op:
            raise DequantizeError(f"{name!r} does not feed exactly one {op}")
        return users[0]

    removed: set[int] = set()
    replacements: dict[int, Any] = {}  # id of the scale Mul -> the float node taking its place
    new_inits = []
    for node in graph.node:
        if node.op_type not in _INTEGER_OPS:
            continue
        x_q, w_q = node.input[0], node.input[1]
        w_zp = node.input[3] if len(node.input) > 3 and node.input[3] else None
        dql = producer.get(x_q)
        if dql is None or dql.op_type != "DynamicQuantizeLinear":
            raise DequantizeError(f"{node.name}: input is not dynamically quantized")
        cast = only_consumer(node.output[0], "Cast")
        mul = only_consumer(cast.output[0], "Mul")
        scale_name = next((i for i in mul.input if i != cast.output[0]), None)
        scale_mul = producer.get(scale_name or "")
        if scale_mul is None or scale_mul.op_type != "Mul" or dql.output[1] not in scale_mul.input:
            raise DequantizeError(f"{node.name}: output scale is not input scale x weight scale")
        w_scale = const(next(i for i in scale_mul.input if i != dql.output[1]))
        weight = const(w_q).astype(np.float32)
        if w_zp is not None:
            weight -= _channel_shaped(const(w_zp).astype(np.float32), weight, node.op_type)
        weight *= _channel_shaped(w_scale.astype(np.float32), weight, node.op_type)
        w_name = f"{w_q}_dequantized"
        new_inits.append(numpy_helper.from_array(weight.astype(np.float32), w_name))
        op = "Conv" if node.op_type == "ConvInteger" else "MatMul"
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        replacements[id(mul)] = helper.make_node(
            op, [dql.input[0], w_name], [mul.output[0]], name=f"{node.name}_float", **attrs
        )
        removed |= {id(node), id(cast)}
        if len(consumers.get(scale_mul.output[0], [])) == 1:
            removed.add(id(scale_mul))
    if not replacements:
        raise DequantizeError("no dynamic-int8 Conv/MatMul found")

    nodes = [replacements.get(id(n), n) for n in graph.node if id(n) not in removed]
    # DynamicQuantizeLinear nodes (and scale Muls) nothing reads any more go too.
    while True:
        used = {i for n in nodes for i in n.input} | {o.name for o in graph.output}
        dead = [n for n in nodes if n.op_type != "Constant" and not any(o in used for o in n.output if o)]
        if not dead:
            break
        nodes = [n for n in nodes if n not in dead]
    del graph.node[:]
    graph.node.extend(nodes)
    used = {i for n in nodes for i in n.input}
    kept = [t for t in graph.initializer if t.name in used] + new_inits
    del graph.initializer[:]
    graph.initializer.extend(kept)
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise DequantizeError(f"the rewritten graph is invalid: {exc}") from exc
    return model


def _channel_shaped(values: np.ndarray, weight: np.ndarray, op: str) -> np.ndarray:
    """A per-tensor or per-output-channel constant shaped to broadcast over the weight tensor."""
    if values.size == 1:
        return values.reshape(())
    if op == "ConvInteger":  # weights [out, in/group, kh, kw]
        return values.reshape((-1,) + (1,) * (weight.ndim - 1))
    return values.reshape((1,) * (weight.ndim - 1) + (-1,))  # MatMul weights [in, out]


def float_model_path(source: Path, *, cache: Path | None = None) -> Path:
    """The float32 twin of a dynamic-int8 ONNX file, converted on first use and cached by sha256.

    Raises ImportError without the ``onnx`` package, DequantizeError when the graph cannot be rewritten.
    """
    import onnx

    digest = file_digest(source)
    folder = cache or cache_dir()
    target = folder / f"{source.stem}.{digest[:16]}.v{CONVERTER_VERSION}.float32.onnx"
    if target.is_file():
        return target
    model = onnx.load(str(source))
    if not is_dynamic_int8(model):
        raise DequantizeError(f"{source.name} has no dynamic-int8 Conv/MatMul")
    converted = dequantize_model(model)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    onnx.save(converted, str(tmp))
    os.replace(tmp, target)  # atomic: a concurrent loader sees the whole file or none
    log.info("dequantized %s to float32 (%s)", source.name, target)
    return target
