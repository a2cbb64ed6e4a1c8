"""What the fixture scripts share: importing a reference repository's modules without its package __init__, an
exact attention in place of the CUDA-only flash_attn, and seeded weights that the C++ tests regenerate.

Seeded weights: each tensor is drawn with torch's CPU generator from its own seed (torch.manual_seed(seed);
torch.randn(numel) * scale + offset, in float32). The recipe (name, shape, seed, scale, offset) goes into the
fixture instead of the weights; tests/models/fixtures.h's recipe_tensors() redraws them with x2v's torch-identical
generator.
"""
import importlib.util
import pathlib
import sys
import types

import torch
import torch.nn.functional as F


def add_packages(repo: pathlib.Path, packages) -> None:
    """Registers empty packages (name, folder under repo) so that modules import without running __init__.py."""
    for name, folder in packages:
        package = types.ModuleType(name)
        package.__path__ = [str(repo / folder)]
        sys.modules[name] = package


def load_module(name: str, path: pathlib.Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def sdpa_attention(q, k, v, q_lens=None, k_lens=None, dropout_p=0.0, causal=False, softmax_scale=None, **_):
    """flash_attention's contract ([B, L, heads, d]; keys past k_lens masked) on PyTorch's exact SDPA."""
    mask = None
    if k_lens is not None:
        mask = (torch.arange(k.shape[1])[None, :] < k_lens[:, None])[:, None, None, :]
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask,
                                         is_causal=causal, scale=softmax_scale)
    return out.transpose(1, 2).contiguous()


def seeded_weights(named_shapes, base_seed: int, scale_of, prefix: str = ""):
    """(state, recipe) for (name, shape) pairs; scale_of(name, shape) gives (scale, offset)."""
    state, recipe = {}, []
    for index, (name, shape) in enumerate(named_shapes):
        seed = base_seed + index
        scale, offset = scale_of(name, tuple(shape))
        scale = float(torch.tensor(scale, dtype=torch.float32))
        numel = 1
        for size in shape:
            numel *= size
        torch.manual_seed(seed)
        values = torch.randn(numel) * torch.tensor(scale, dtype=torch.float32) + offset
        state[name] = values.reshape(tuple(shape))
        recipe.append({"name": prefix + name, "shape": list(shape), "seed": seed, "scale": scale, "offset": offset})
    return state, recipe


def fan_in(shape) -> int:
    size = 1
    for extent in shape[1:]:
        size *= extent
    return size


def vae_scale_of(name, shape):
    """The Wan VAEs' seeded weights: RMS-norm gammas near 1, biases at 0.5 (away from zero, so F.normalize never
    sees an all-zero position), convolutions at 1/sqrt(fan_in)."""
    if name.endswith("gamma"):
        return 0.1, 1.0
    if len(shape) == 1:
        return 0.5, 0.0
    return 1.0 / fan_in(shape) ** 0.5, 0.0
