"""Read CTranslate2's ``model.bin`` and rebuild an openai-whisper checkpoint from a Whisper model.

CTranslate2 binary format (version 6, little-endian): ``u32 version``, ``str spec name``,
``u32 revision``, ``u32 variable count``, then per variable ``str name``, ``u8 rank``,
``u32 dim`` × rank, ``u8 dtype``, ``u32 byte count``, raw bytes; then ``u32 alias count`` and
``str alias``, ``str target`` pairs. A ``str`` is ``u16 length`` (including a NUL) + bytes + NUL.
"""

from __future__ import annotations

import base64
import gzip
import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from castgraph.core.errors import DependencyError, ModelError

SUPPORTED_BINARY_VERSION = 6
DTYPES: dict[int, str] = {
    0: "float32",
    1: "int8",
    2: "int16",
    3: "int32",
    4: "float16",
    5: "bfloat16",
}

Array = npt.NDArray[Any]


@dataclass(frozen=True, slots=True)
class Ct2Model:
    """The variables and aliases of a CTranslate2 model file."""

    spec: str
    revision: int
    variables: dict[str, Array]
    aliases: dict[str, str]

    def __getitem__(self, name: str) -> Array:
        return self.variables[self.aliases.get(name, name)]

    def __contains__(self, name: str) -> bool:
        return self.aliases.get(name, name) in self.variables


class _Reader:
    """Sequential little-endian reads over a byte buffer."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def unpack(self, fmt: str) -> int:
        (value,) = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return int(value)

    def string(self) -> str:
        length = self.unpack("H")
        raw = self.data[self.pos : self.pos + length]
        if len(raw) != length or not raw.endswith(b"\0"):
            raise ValueError("truncated or unterminated string")
        self.pos += length
        return raw[:-1].decode("utf-8")

    def array(self, dtype_id: int, shape: tuple[int, ...], nbytes: int) -> Array:
        if dtype_id not in DTYPES:
            raise ValueError(f"unknown dtype id {dtype_id}")
        if self.pos + nbytes > len(self.data):
            raise ValueError("truncated variable data")
        raw = self.data[self.pos : self.pos + nbytes]
        self.pos += nbytes
        if DTYPES[dtype_id] == "bfloat16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            return bits.view(np.float32).reshape(shape)
        return np.frombuffer(raw, dtype=np.dtype(DTYPES[dtype_id]).newbyteorder("<")).reshape(shape)


def _parse(data: bytes) -> Ct2Model:
    reader = _Reader(data)
    version = reader.unpack("I")
    if version != SUPPORTED_BINARY_VERSION:
        raise ModelError(
            f"unsupported CTranslate2 binary version {version} "
            f"(expected {SUPPORTED_BINARY_VERSION})"
        )
    spec = reader.string()
    revision = reader.unpack("I")
    variables: dict[str, Array] = {}
    for _ in range(reader.unpack("I")):
        name = reader.string()
        shape = tuple(reader.unpack("I") for _ in range(reader.unpack("B")))
        dtype_id = reader.unpack("B")
        variables[name] = reader.array(dtype_id, shape, reader.unpack("I"))
    aliases = {}
    for _ in range(reader.unpack("I")):
        alias = reader.string()
        aliases[alias] = reader.string()
    return Ct2Model(spec=spec, revision=revision, variables=variables, aliases=aliases)


def read_ct2_model(path: Path) -> Ct2Model:
    """Parse a CTranslate2 ``model.bin``; raise ModelError when it is not one."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read {path}: {e}") from e
    try:
        return _parse(data)
    except (struct.error, ValueError, UnicodeDecodeError) as e:
        raise ModelError(f"{path} is not a valid CTranslate2 model file: {e}") from e


def _count_layers(model: Ct2Model, prefix: str) -> int:
    count = 0
    while f"{prefix}/layer_{count}/ffn/linear_0/weight" in model:
        count += 1
    return count


def _heads(model: Ct2Model, prefix: str, state: int) -> int:
    name = f"{prefix}/num_heads"
    return int(model[name]) if name in model else state // 64


def whisper_dims(model: Ct2Model) -> dict[str, int]:
    """openai-whisper's ``ModelDimensions``, read from the tensors' shapes."""
    conv1 = model["encoder/conv1/weight"]
    enc_pos = model["encoder/position_encodings/encodings"]
    dec_pos = model["decoder/position_encodings/encodings"]
    embed = model["decoder/embeddings/weight"]
    return {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(enc_pos.shape[0]),
        "n_audio_state": int(enc_pos.shape[1]),
        "n_audio_head": _heads(model, "encoder", int(enc_pos.shape[1])),
        "n_audio_layer": _count_layers(model, "encoder"),
        "n_vocab": int(embed.shape[0]),
        "n_text_ctx": int(dec_pos.shape[0]),
        "n_text_state": int(dec_pos.shape[1]),
        "n_text_head": _heads(model, "decoder", int(dec_pos.shape[1])),
        "n_text_layer": _count_layers(model, "decoder"),
    }


class _StateBuilder:
    """Copies CTranslate2 variables into openai-whisper state-dict names."""

    def __init__(self, model: Ct2Model) -> None:
        self.model = model
        self.state: dict[str, Array] = {}

    def linear(self, src: str, dst: str) -> None:
        self.state[f"{dst}.weight"] = self.model[f"{src}/weight"]
        self.state[f"{dst}.bias"] = self.model[f"{src}/bias"]

    def layer_norm(self, src: str, dst: str) -> None:
        self.state[f"{dst}.weight"] = self.model[f"{src}/gamma"]
        self.state[f"{dst}.bias"] = self.model[f"{src}/beta"]

    def self_attention(self, src: str, dst: str) -> None:
        """Split the fused QKV projection; openai-whisper's key has no bias (softmax ignores it)."""
        q_w, k_w, v_w = np.split(self.model[f"{src}/linear_0/weight"], 3, axis=0)
        q_b, _, v_b = np.split(self.model[f"{src}/linear_0/bias"], 3, axis=0)
        self.state.update(
            {
                f"{dst}.query.weight": q_w,
                f"{dst}.query.bias": q_b,
                f"{dst}.key.weight": k_w,
                f"{dst}.value.weight": v_w,
                f"{dst}.value.bias": v_b,
            }
        )
        self.linear(f"{src}/linear_1", f"{dst}.out")

    def cross_attention(self, src: str, dst: str) -> None:
        """Query, then the fused key/value projection of the encoder output, then out."""
        self.linear(f"{src}/linear_0", f"{dst}.query")
        k_w, v_w = np.split(self.model[f"{src}/linear_1/weight"], 2, axis=0)
        _, v_b = np.split(self.model[f"{src}/linear_1/bias"], 2, axis=0)
        self.state.update(
            {f"{dst}.key.weight": k_w, f"{dst}.value.weight": v_w, f"{dst}.value.bias": v_b}
        )
        self.linear(f"{src}/linear_2", f"{dst}.out")

    def block(self, src: str, dst: str, *, cross: bool) -> None:
        self.self_attention(f"{src}/self_attention", f"{dst}.attn")
        self.layer_norm(f"{src}/self_attention/layer_norm", f"{dst}.attn_ln")
        if cross:
            self.cross_attention(f"{src}/attention", f"{dst}.cross_attn")
            self.layer_norm(f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln")
        self.linear(f"{src}/ffn/linear_0", f"{dst}.mlp.0")
        self.linear(f"{src}/ffn/linear_1", f"{dst}.mlp.2")
        self.layer_norm(f"{src}/ffn/layer_norm", f"{dst}.mlp_ln")


def _check_convertible(model: Ct2Model) -> None:
    if model.spec != "WhisperSpec":
        raise ModelError(f"not a Whisper model: CTranslate2 spec is {model.spec!r}")
    quantized = [n for n, a in model.variables.items() if n.endswith("weight_scale")]
    if quantized or model["encoder/conv1/weight"].dtype.kind != "f":
        raise ModelError("a quantized (int8) CTranslate2 model cannot be converted; use float16/32")


def alignment_heads_dump(heads: Sequence[Sequence[int]], n_layer: int, n_head: int) -> str:
    """openai-whisper's ``set_alignment_heads`` argument: base85 of a gzipped boolean mask."""
    mask = np.zeros((n_layer, n_head), dtype=bool)
    for layer, head in heads:
        mask[int(layer), int(head)] = True
    return base64.b85encode(gzip.compress(mask.tobytes(), mtime=0)).decode("ascii")


def whisper_checkpoint(
    model: Ct2Model, alignment_heads: Sequence[Sequence[int]] | None = None
) -> dict[str, Any]:
    """``{"dims", "model_state_dict"(numpy), "alignment_heads"?}`` for a CTranslate2 Whisper."""
    _check_convertible(model)
    dims = whisper_dims(model)
    build = _StateBuilder(model)
    build.state["encoder.conv1.weight"] = model["encoder/conv1/weight"]
    build.state["encoder.conv1.bias"] = model["encoder/conv1/bias"]
    build.state["encoder.conv2.weight"] = model["encoder/conv2/weight"]
    build.state["encoder.conv2.bias"] = model["encoder/conv2/bias"]
    build.state["encoder.positional_embedding"] = model["encoder/position_encodings/encodings"]
    for i in range(dims["n_audio_layer"]):
        build.block(f"encoder/layer_{i}", f"encoder.blocks.{i}", cross=False)
    build.layer_norm("encoder/layer_norm", "encoder.ln_post")
    build.state["decoder.token_embedding.weight"] = model["decoder/embeddings/weight"]
    build.state["decoder.positional_embedding"] = model["decoder/position_encodings/encodings"]
    for i in range(dims["n_text_layer"]):
        build.block(f"decoder/layer_{i}", f"decoder.blocks.{i}", cross=True)
    build.layer_norm("decoder/layer_norm", "decoder.ln")
    checkpoint: dict[str, Any] = {"dims": dims, "model_state_dict": build.state}
    if alignment_heads:
        checkpoint["alignment_heads"] = alignment_heads_dump(
            alignment_heads, dims["n_text_layer"], dims["n_text_head"]
        )
    return checkpoint


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as e:
        raise DependencyError("torch", "openai-whisper") from e
    return torch


def convert_whisper(ct2_dir: Path, out_path: Path) -> dict[str, int]:
    """Convert ``ct2_dir`` (model.bin + config.json) to an openai-whisper checkpoint file."""
    torch = _import_torch()
    try:
        config = json.loads((ct2_dir / "config.json").read_text("utf-8"))
    except (OSError, ValueError):
        config = {}
    try:
        checkpoint = whisper_checkpoint(
            read_ct2_model(ct2_dir / "model.bin"), config.get("alignment_heads")
        )
        state = {
            k: torch.from_numpy(np.array(v)) for k, v in checkpoint["model_state_dict"].items()
        }
    except KeyError as e:
        raise ModelError(f"{ct2_dir / 'model.bin'} lacks Whisper variable {e}") from e
    checkpoint["model_state_dict"] = state
    try:
        torch.save(checkpoint, out_path)
    except OSError as e:
        raise ModelError(f"cannot write {out_path}: {e}") from e
    return dict(checkpoint["dims"])


def verify_whisper_checkpoint(path: Path) -> int:
    """Load the checkpoint into openai-whisper's model (strict names, shapes); return its size."""
    torch = _import_torch()
    try:
        from whisper.model import ModelDimensions, Whisper
    except ImportError as e:
        raise DependencyError("openai-whisper", "openai-whisper") from e
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        model = Whisper(ModelDimensions(**checkpoint["dims"]))
        model.load_state_dict(checkpoint["model_state_dict"], strict=True)
    except (OSError, RuntimeError, KeyError, TypeError, ValueError) as e:
        raise ModelError(f"{path} is not a loadable openai-whisper checkpoint: {e}") from e
    return len(checkpoint["model_state_dict"])
