"""Writes the CLIP image encoder fixtures (tests/fixtures/clip/) with the official Wan code (wan/modules/clip.py).

A small seeded-random VisionTransformer with the ViT-H/14 recipe Wan uses (patch 14, head width 80, GELU, class
token, pre-norm, no post-norm) at 56x56 (4x4 patches + class token = 17 tokens), 160 wide (2 heads), 3 blocks.
Its weights are drawn with torch's CPU generator from a per-tensor seed (torch.manual_seed(seed);
torch.randn(numel) * scale + offset in float32), so the test regenerates them with x2v's torch-identical
generator and the fixture holds only the recipe and the activations: the pre-norm output, the hidden states after
each block and the use_31_block output (all blocks but the last). The preprocessing (CLIPModel.visual: bicubic to
the image size, back to [0, 1], CLIP's mean and std) runs on a non-square 37x53 image.

flash_attn is CUDA-only: attention runs through PyTorch's exact scaled_dot_product_attention in float32, and the
tower runs in float32 (Wan autocasts it to fp16 on a GPU).

Dev only:  pip install torch numpy safetensors
           python3 tools/reference/make_clip_fixtures.py --wan-repo PATH_TO_Wan2.1_CHECKOUT
"""
import argparse
import importlib.util
import json
import pathlib
import sys
import types

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import reference_common as common  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "clip"
SMALL = dict(image_size=56, patch_size=14, dim=160, mlp_ratio=4, out_dim=64, num_heads=2, num_layers=3,
             pool_type="token", pre_norm=True, post_norm=False, activation="gelu")
IMAGE = (3, 37, 53)
BASE_SEED = 5000
MEAN = (0.48145466, 0.4578275, 0.40821073)  # open-CLIP's OPENAI_DATASET_MEAN / _STD, as clip.py's transforms
STD = (0.26862954, 0.26130258, 0.27577711)


def load_official_clip(wan_repo: pathlib.Path):
    """Imports wan.modules.clip without wan/__init__.py; the text tower's tokenizer and torchvision are stubbed."""
    common.add_packages(wan_repo, [("wan", "wan"), ("wan.modules", "wan/modules")])
    tokenizers = types.ModuleType("wan.modules.tokenizers")
    tokenizers.HuggingfaceTokenizer = None
    sys.modules["wan.modules.tokenizers"] = tokenizers
    if importlib.util.find_spec("torchvision") is None:
        torchvision = types.ModuleType("torchvision")
        torchvision.transforms = types.ModuleType("torchvision.transforms")
        sys.modules["torchvision"] = torchvision
        sys.modules["torchvision.transforms"] = torchvision.transforms
    common.load_module("wan.modules.attention", wan_repo / "wan/modules/attention.py")
    common.load_module("wan.modules.xlm_roberta", wan_repo / "wan/modules/xlm_roberta.py")
    clip = common.load_module("wan.modules.clip", wan_repo / "wan/modules/clip.py")
    clip.flash_attention = common.sdpa_attention
    return clip


def scale_of(name, shape):
    if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "pre_norm.weight":
        return 0.1, 1.0
    if len(shape) == 1:
        return 0.1, 0.0
    if name in ("cls_embedding", "pos_embedding", "head"):
        return 1.0, 0.0
    return 1.0 / common.fan_in(shape) ** 0.5, 0.0


def diffusers_mapping(layers: int, dim: int):
    """diffusers' image_encoder/ (transformers' CLIPVisionModel) names from Wan's: (name, source, rows or None)."""
    v, hf = "visual.", "vision_model."
    entries = [(hf + "embeddings.patch_embedding.weight", v + "patch_embedding.weight", None),
               (hf + "embeddings.class_embedding", v + "cls_embedding", None),
               (hf + "embeddings.position_embedding.weight", v + "pos_embedding", None)]
    for kind in ("weight", "bias"):
        entries.append((f"{hf}pre_layrnorm.{kind}", f"{v}pre_norm.{kind}", None))
        entries.append((f"{hf}post_layernorm.{kind}", f"{v}post_norm.{kind}", None))
        for i in range(layers):
            ours, theirs = f"{v}transformer.{i}.", f"{hf}encoder.layers.{i}."
            for a, b in [("norm1", "layer_norm1"), ("norm2", "layer_norm2"), ("attn.proj", "self_attn.out_proj"),
                         ("mlp.0", "mlp.fc1"), ("mlp.2", "mlp.fc2")]:
                entries.append((f"{theirs}{b}.{kind}", f"{ours}{a}.{kind}", None))
            for index, part in enumerate(("q_proj", "k_proj", "v_proj")):  # to_qkv is [q | k | v]
                entries.append((f"{theirs}self_attn.{part}.{kind}", f"{ours}attn.to_qkv.{kind}",
                                [index * dim, (index + 1) * dim]))
    return entries


def check_diffusers_layout(model, state, pixels, features):
    """The same weights under diffusers' image_encoder/ names run in transformers' CLIPVisionModel: its
    hidden_states[-2] (what diffusers' Wan I2V pipeline takes) must equal the official features."""
    for name in ("torchvision.transforms", "torchvision"):  # the stubs clip.py needed would confuse transformers
        if name in sys.modules and sys.modules[name].__spec__ is None:
            del sys.modules[name]
    from transformers import CLIPVisionConfig, CLIPVisionModel
    config = CLIPVisionConfig(hidden_size=SMALL["dim"], intermediate_size=SMALL["dim"] * SMALL["mlp_ratio"],
                              num_hidden_layers=SMALL["num_layers"], num_attention_heads=SMALL["num_heads"],
                              image_size=SMALL["image_size"], patch_size=SMALL["patch_size"], hidden_act="gelu",
                              layer_norm_eps=1e-5)
    hf = CLIPVisionModel(config).eval()
    mapping = diffusers_mapping(SMALL["num_layers"], SMALL["dim"])
    # The published image_encoder/ files carry "vision_model."; transformers 5's CLIPVisionModel drops the prefix.
    model_keys = hf.state_dict()
    key = (lambda name: name) if "vision_model.pre_layrnorm.weight" in model_keys else (
        lambda name: name[len("vision_model."):])
    renamed = {}
    for name, source, rows in mapping:
        value = state[source[len("visual."):]]
        if rows is not None:
            value = value[rows[0]:rows[1]]
        renamed[name] = value.reshape(model_keys[key(name)].shape)
    missing, unexpected = hf.load_state_dict({key(name): value for name, value in renamed.items()}, strict=False)
    assert not unexpected and all("position_ids" in name for name in missing), (missing, unexpected)
    with torch.no_grad():
        hidden = hf(pixel_values=pixels, output_hidden_states=True).hidden_states[-2][0]
    error = (hidden - features).abs().max().item()
    print(f"transformers' CLIPVisionModel under diffusers' names vs the official tower: max abs difference {error:.2e}")
    assert error < 1e-5
    return [{"name": name, "from": source, "rows": rows, "shape": list(renamed[name].shape)}
            for name, source, rows in mapping]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wan-repo", type=pathlib.Path, required=True, help="a checkout of Wan-Video/Wan2.1")
    arguments = parser.parse_args()
    torch.set_num_threads(2)
    clip = load_official_clip(arguments.wan_repo.resolve())
    model = clip.VisionTransformer(**SMALL).eval()
    # Named as in Wan's CLIP file, where the visual tower sits under "visual.".
    state, recipe = common.seeded_weights([(n, p.shape) for n, p in model.state_dict().items()], BASE_SEED,
                                          scale_of, prefix="visual.")
    model.load_state_dict(state)

    generator = torch.Generator().manual_seed(21)
    image = torch.rand(*IMAGE, generator=generator) * 2 - 1  # [-1, 1], as to_tensor then sub_(0.5).div_(0.5)
    # CLIPModel.visual's preprocessing (its Normalize written out: torchvision is not needed for it).
    size = (model.image_size,) * 2
    pixels = F.interpolate(image.unsqueeze(0), size=size, mode="bicubic", align_corners=False)
    pixels = pixels.mul_(0.5).add_(0.5)
    pixels = (pixels - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)

    outputs = {"image": image.contiguous(), "pixels": pixels[0].contiguous()}
    with torch.no_grad():
        x = model.patch_embedding(pixels).flatten(2).permute(0, 2, 1)
        x = torch.cat([model.cls_embedding.expand(1, -1, -1), x], dim=1) + model.pos_embedding
        x = model.pre_norm(x)
        outputs["pre_norm"] = x[0].clone()
        for index, block in enumerate(model.transformer):
            x = block(x)
            outputs[f"block_{index + 1}"] = x[0].clone()
        features = model(pixels, use_31_block=True)[0]
    assert torch.equal(features, outputs[f"block_{SMALL['num_layers'] - 1}"])
    outputs["features"] = features.contiguous()
    diffusers_names = check_diffusers_layout(model, state, pixels, features)
    print(f"features {tuple(features.shape)}, std {features.std().item():.3f}")
    OUT.mkdir(parents=True, exist_ok=True)
    save_file(outputs, str(OUT / "clip.safetensors"))
    (OUT / "weights.json").write_text(json.dumps(recipe, indent=0) + "\n")
    (OUT / "diffusers_names.json").write_text(json.dumps(diffusers_names, indent=0) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
