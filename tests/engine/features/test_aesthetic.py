"""The aesthetic head: read from safetensors as LAION's heads are saved, widths validated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

from attribution.engine.errors import EngineInputError
from attribution.engine.features import AestheticHead

SEED = 11
WIDTH = 8


def _laion_like_mlp(width: int = WIDTH) -> torch.nn.Sequential:
    """The improved LAION predictor's shape, shrunk: linear layers with dropout, no activation."""
    torch.manual_seed(SEED)
    return torch.nn.Sequential(
        torch.nn.Linear(width, 16),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(16, 4),
        torch.nn.Dropout(0.1),
        torch.nn.Linear(4, 1),
    ).eval()


def _save_state(path: Path, module: torch.nn.Module, prefix: str = "layers.", **metadata: str):
    tensors = {prefix + k: v.detach().numpy() for k, v in module.state_dict().items()}
    save_file(tensors, str(path), metadata=metadata or None)
    return path


def _embeddings(count: int = 5, width: int = WIDTH) -> np.ndarray:
    rows = np.random.default_rng(SEED).normal(size=(count, width))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_a_saved_laion_style_state_dict_scores_as_the_torch_module(tmp_path: Path) -> None:
    module = _laion_like_mlp()
    head = AestheticHead.load(_save_state(tmp_path / "head.safetensors", module))
    embeddings = _embeddings()

    scores = head(embeddings)

    expected = module(torch.from_numpy(embeddings).float()).detach().numpy()[:, 0]
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)
    assert head.input_width == WIDTH
    assert scores.shape == (5,)


def test_a_single_linear_layer_with_bare_names_loads(tmp_path: Path) -> None:
    weight = np.arange(WIDTH, dtype=np.float32)[None, :]
    save_file({"weight": weight, "bias": np.array([0.5], dtype=np.float32)}, str(tmp_path / "v1"))
    embeddings = _embeddings()

    scores = AestheticHead.load(tmp_path / "v1")(embeddings)

    np.testing.assert_allclose(scores, embeddings @ weight[0] + 0.5, rtol=1e-6)


def test_relu_metadata_puts_an_activation_between_layers(tmp_path: Path) -> None:
    module = _laion_like_mlp()
    plain = AestheticHead.load(_save_state(tmp_path / "plain", module))
    relu = AestheticHead.load(_save_state(tmp_path / "relu", module, activation="relu"))
    with_relu = torch.nn.Sequential(
        module[0], torch.nn.ReLU(), module[2], torch.nn.ReLU(), module[4]
    ).eval()
    embeddings = _embeddings(20)

    expected = with_relu(torch.from_numpy(embeddings).float()).detach().numpy()[:, 0]
    np.testing.assert_allclose(relu(embeddings), expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(relu(embeddings), plain(embeddings))
    assert relu.describe()["activation"] == "relu"


def test_the_head_width_must_match_the_featurizer(tmp_path: Path) -> None:
    head = AestheticHead.load(_save_state(tmp_path / "head", _laion_like_mlp()))

    with pytest.raises(EngineInputError, match="takes 8-d embeddings but the CLIP model gives 768"):
        head.check_width(768)
    with pytest.raises(EngineInputError, match="takes 8-d embeddings"):
        head(_embeddings(width=6))


@pytest.mark.parametrize(
    ("tensors", "message"),
    [
        ({"layers.0.weight": np.ones((2, 3)), "layers.0.bias": np.ones(2)}, "one output"),
        (
            {
                "layers.0.weight": np.ones((2, 3)),
                "layers.0.bias": np.ones(2),
                "layers.1.weight": np.ones((1, 4)),
                "layers.1.bias": np.ones(1),
            },
            "takes 4 inputs but the layer before gives 2",
        ),
        ({"layers.0.weight": np.ones((1, 3))}, "lack a weight or a bias"),
        ({"encoder.proj": np.ones((1, 3))}, "holds a tensor 'encoder.proj'"),
        ({"weight": np.ones((1, 3)), "bias": np.ones(2)}, r"bias \(out,\)"),
        ({"weight": np.full((1, 3), np.nan), "bias": np.ones(1)}, "NaN"),
    ],
)
def test_malformed_heads_are_refused(tmp_path: Path, tensors: dict, message: str) -> None:
    path = tmp_path / "bad.safetensors"
    save_file({k: v.astype(np.float32) for k, v in tensors.items()}, str(path))

    with pytest.raises(EngineInputError, match=message):
        AestheticHead.load(path)


def test_missing_pickled_and_unknown_activation_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(EngineInputError, match="the aesthetic head file not found"):
        AestheticHead.load(tmp_path / "absent.safetensors")
    pickled = tmp_path / "head.pth"
    torch.save(_laion_like_mlp().state_dict(), pickled)
    with pytest.raises(EngineInputError, match="not a safetensors file"):
        AestheticHead.load(pickled)
    with pytest.raises(EngineInputError, match="activation"):
        AestheticHead.load(_save_state(tmp_path / "gelu", _laion_like_mlp(), activation="gelu"))


def test_the_description_identifies_the_file(tmp_path: Path) -> None:
    first = AestheticHead.load(_save_state(tmp_path / "a", _laion_like_mlp()))
    other = AestheticHead.load(_save_state(tmp_path / "b", _laion_like_mlp(), prefix="mlp."))

    assert first.describe()["widths"] == [8, 16, 4, 1]
    assert first.describe() != other.describe()
    assert first.describe() == AestheticHead.load(tmp_path / "a").describe()
