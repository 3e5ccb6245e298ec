"""Parsing CTranslate2's binary model format and rebuilding an openai-whisper checkpoint."""

from __future__ import annotations

import base64
import gzip
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from castgraph.core.errors import ModelError
from castgraph.modelfiles.ct2_convert import (
    alignment_heads_dump,
    convert_whisper,
    read_ct2_model,
    whisper_checkpoint,
    whisper_dims,
)

DTYPE_IDS = {"float32": 0, "int8": 1, "int16": 2, "int32": 3, "float16": 4}
DIMS = {
    "n_mels": 4,
    "n_audio_ctx": 6,
    "n_audio_state": 8,
    "n_audio_head": 2,
    "n_audio_layer": 1,
    "n_vocab": 11,
    "n_text_ctx": 5,
    "n_text_state": 8,
    "n_text_head": 2,
    "n_text_layer": 2,
}


def _string(value: str) -> bytes:
    raw = value.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def write_ct2(
    path: Path,
    variables: dict[str, np.ndarray],
    aliases: dict[str, str] | None = None,
    *,
    spec: str = "WhisperSpec",
    version: int = 6,
) -> None:
    """Write a CTranslate2 model.bin (the test's own writer, independent of the parser)."""
    out = [struct.pack("<I", version), _string(spec), struct.pack("<II", 3, len(variables))]
    for name, value in variables.items():
        raw = np.array(value, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
        # uint16 stands for bfloat16 bits
        dtype_id = 5 if raw.dtype == np.uint16 else DTYPE_IDS[raw.dtype.name]
        out += [_string(name), struct.pack("<B", raw.ndim)]
        out += [struct.pack("<I", d) for d in raw.shape]
        out += [
            struct.pack("<BI", dtype_id, raw.nbytes),
            raw.astype(raw.dtype.newbyteorder("<")).tobytes(),
        ]
    out.append(struct.pack("<I", len(aliases or {})))
    for alias, target in (aliases or {}).items():
        out += [_string(alias), _string(target)]
    path.write_bytes(b"".join(out))


def test_reads_variables_dtypes_and_aliases(tmp_path: Path) -> None:
    weights = np.arange(6, dtype=np.float16).reshape(2, 3)
    bf16 = (np.array([1.5, -2.0], dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)
    write_ct2(
        tmp_path / "model.bin",
        {
            "w": weights,
            "f32": np.array([0.25], dtype=np.float32),
            "heads": np.array(8, dtype=np.int16),
            "flag": np.array(1, dtype=np.int8),
            "bf": bf16,
        },
        {"alias/w": "w"},
    )
    model = read_ct2_model(tmp_path / "model.bin")
    assert model.spec == "WhisperSpec"
    assert model.revision == 3
    assert model["w"].dtype == np.float16
    np.testing.assert_array_equal(model["alias/w"], weights)
    assert model["f32"].tolist() == [0.25]
    assert int(model["heads"]) == 8 and model["heads"].shape == ()
    assert model["flag"].dtype == np.int8
    assert model["bf"].tolist() == [1.5, -2.0]
    assert "alias/w" in model and "nope" not in model


def test_truncated_or_foreign_files_are_model_errors(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    write_ct2(path, {"w": np.ones((4, 4), dtype=np.float32)})
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ModelError, match="not a valid CTranslate2"):
        read_ct2_model(path)
    write_ct2(path, {}, version=5)
    with pytest.raises(ModelError, match="unsupported CTranslate2 binary version 5"):
        read_ct2_model(path)
    with pytest.raises(ModelError, match="cannot read"):
        read_ct2_model(tmp_path / "absent.bin")


def _openai_state(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A random state dict with openai-whisper's names and the DIMS shapes."""
    d, state = DIMS["n_audio_state"], {}

    def linear(name: str, out: int, inp: int, bias: bool = True) -> None:
        state[f"{name}.weight"] = rng.standard_normal((out, inp)).astype(np.float32)
        if bias:
            state[f"{name}.bias"] = rng.standard_normal(out).astype(np.float32)

    def norm(name: str) -> None:
        linear(name, d, 1)
        state[f"{name}.weight"] = state[f"{name}.weight"][:, 0].copy()

    def attention(name: str) -> None:
        linear(f"{name}.query", d, d)
        linear(f"{name}.key", d, d, bias=False)
        linear(f"{name}.value", d, d)
        linear(f"{name}.out", d, d)

    def block(name: str, cross: bool) -> None:
        attention(f"{name}.attn")
        norm(f"{name}.attn_ln")
        if cross:
            attention(f"{name}.cross_attn")
            norm(f"{name}.cross_attn_ln")
        linear(f"{name}.mlp.0", 4 * d, d)
        linear(f"{name}.mlp.2", d, 4 * d)
        norm(f"{name}.mlp_ln")

    state["encoder.conv1.weight"] = rng.standard_normal((d, DIMS["n_mels"], 3)).astype(np.float32)
    state["encoder.conv1.bias"] = rng.standard_normal(d).astype(np.float32)
    state["encoder.conv2.weight"] = rng.standard_normal((d, d, 3)).astype(np.float32)
    state["encoder.conv2.bias"] = rng.standard_normal(d).astype(np.float32)
    state["encoder.positional_embedding"] = rng.standard_normal((DIMS["n_audio_ctx"], d)).astype(
        np.float32
    )
    for i in range(DIMS["n_audio_layer"]):
        block(f"encoder.blocks.{i}", cross=False)
    norm("encoder.ln_post")
    state["decoder.token_embedding.weight"] = rng.standard_normal((DIMS["n_vocab"], d)).astype(
        np.float32
    )
    state["decoder.positional_embedding"] = rng.standard_normal((DIMS["n_text_ctx"], d)).astype(
        np.float32
    )
    for i in range(DIMS["n_text_layer"]):
        block(f"decoder.blocks.{i}", cross=True)
    norm("decoder.ln")
    return state


def _ct2_variables(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What CTranslate2's converter would write for that model (fused QKV, zero key bias)."""
    v: dict[str, np.ndarray] = {}

    def linear(src: str, dst: str) -> None:
        v[f"{dst}/weight"], v[f"{dst}/bias"] = state[f"{src}.weight"], state[f"{src}.bias"]

    def norm(src: str, dst: str) -> None:
        v[f"{dst}/gamma"], v[f"{dst}/beta"] = state[f"{src}.weight"], state[f"{src}.bias"]

    def layer(src: str, dst: str, cross: bool) -> None:
        q, k, val = (f"{src}.attn.{p}" for p in ("query", "key", "value"))
        v[f"{dst}/self_attention/linear_0/weight"] = np.concatenate(
            [state[f"{q}.weight"], state[f"{k}.weight"], state[f"{val}.weight"]]
        )
        v[f"{dst}/self_attention/linear_0/bias"] = np.concatenate(
            [state[f"{q}.bias"], np.zeros_like(state[f"{q}.bias"]), state[f"{val}.bias"]]
        )
        linear(f"{src}.attn.out", f"{dst}/self_attention/linear_1")
        norm(f"{src}.attn_ln", f"{dst}/self_attention/layer_norm")
        if cross:
            c = f"{src}.cross_attn"
            linear(f"{c}.query", f"{dst}/attention/linear_0")
            v[f"{dst}/attention/linear_1/weight"] = np.concatenate(
                [state[f"{c}.key.weight"], state[f"{c}.value.weight"]]
            )
            v[f"{dst}/attention/linear_1/bias"] = np.concatenate(
                [np.zeros_like(state[f"{c}.value.bias"]), state[f"{c}.value.bias"]]
            )
            linear(f"{c}.out", f"{dst}/attention/linear_2")
            norm(f"{src}.cross_attn_ln", f"{dst}/attention/layer_norm")
        linear(f"{src}.mlp.0", f"{dst}/ffn/linear_0")
        linear(f"{src}.mlp.2", f"{dst}/ffn/linear_1")
        norm(f"{src}.mlp_ln", f"{dst}/ffn/layer_norm")

    for conv in ("conv1", "conv2"):
        linear(f"encoder.{conv}", f"encoder/{conv}")
    v["encoder/position_encodings/encodings"] = state["encoder.positional_embedding"]
    v["encoder/num_heads"] = np.array(DIMS["n_audio_head"], dtype=np.int16)
    for i in range(DIMS["n_audio_layer"]):
        layer(f"encoder.blocks.{i}", f"encoder/layer_{i}", cross=False)
    norm("encoder.ln_post", "encoder/layer_norm")
    v["decoder/embeddings/weight"] = state["decoder.token_embedding.weight"]
    v["decoder/position_encodings/encodings"] = state["decoder.positional_embedding"]
    v["decoder/num_heads"] = np.array(DIMS["n_text_head"], dtype=np.int16)
    v["decoder/scale_embeddings"] = np.array(0, dtype=np.int8)
    for i in range(DIMS["n_text_layer"]):
        layer(f"decoder.blocks.{i}", f"decoder/layer_{i}", cross=True)
    norm("decoder.ln", "decoder/layer_norm")
    return v


@pytest.fixture
def tiny_model(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    state = _openai_state(np.random.default_rng(0))
    model_dir = tmp_path / "tiny"
    model_dir.mkdir()
    write_ct2(
        model_dir / "model.bin",
        _ct2_variables(state),
        {"decoder/projection/weight": "decoder/embeddings/weight"},
    )
    (model_dir / "config.json").write_text(json.dumps({"alignment_heads": [[1, 0], [1, 1]]}))
    return model_dir, state


def test_whisper_names_and_dims(tiny_model: tuple[Path, dict[str, np.ndarray]]) -> None:
    model_dir, state = tiny_model
    model = read_ct2_model(model_dir / "model.bin")
    assert whisper_dims(model) == DIMS
    checkpoint: dict[str, Any] = whisper_checkpoint(model, [[1, 0]])
    assert checkpoint["dims"] == DIMS
    converted = checkpoint["model_state_dict"]
    assert set(converted) == set(state)
    for name, value in state.items():
        np.testing.assert_array_equal(converted[name], value, err_msg=name)


def test_alignment_heads_dump_is_whispers_format() -> None:
    dump = alignment_heads_dump([[1, 0], [2, 3]], n_layer=3, n_head=4)
    mask = np.frombuffer(gzip.decompress(base64.b85decode(dump)), dtype=bool).reshape(3, 4)
    assert np.argwhere(mask).tolist() == [[1, 0], [2, 3]]
    assert dump == alignment_heads_dump([[1, 0], [2, 3]], n_layer=3, n_head=4)  # deterministic


def test_quantized_and_foreign_models_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    write_ct2(
        path,
        {
            "encoder/conv1/weight": np.ones((2, 2, 3), dtype=np.int8),
            "encoder/conv1/weight_scale": np.ones(2, dtype=np.float32),
        },
    )
    with pytest.raises(ModelError, match="quantized"):
        whisper_checkpoint(read_ct2_model(path))
    write_ct2(path, {"w": np.ones(2, dtype=np.float32)}, spec="TransformerSpec")
    with pytest.raises(ModelError, match="not a Whisper model"):
        whisper_checkpoint(read_ct2_model(path))


def test_converted_checkpoint_loads_in_openai_whisper(
    tiny_model: tuple[Path, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    pytest.importorskip("torch")
    whisper = pytest.importorskip("whisper")
    from castgraph.modelfiles.ct2_convert import verify_whisper_checkpoint

    model_dir, state = tiny_model
    out = tmp_path / "tiny.pt"
    assert convert_whisper(model_dir, out) == DIMS
    assert verify_whisper_checkpoint(out) == len(state)
    model = whisper.load_model(str(out), device="cpu")
    loaded = model.state_dict()
    for name, value in state.items():
        np.testing.assert_array_equal(loaded[name].numpy(), value, err_msg=name)
