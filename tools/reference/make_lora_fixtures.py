"""Writes the LoRA-merge fixtures (tests/fixtures/lora/) with LightX2V's own LoRA loader.

The LoRAs target the small T2V DiT fixture of make_dit_fixtures.py (tests/fixtures/wan_dit/t2v/model_original,
dim 128, 2 blocks). Two files in two common layouts:

* lora_wan_up_down.safetensors: original Wan names under a "diffusion_model." prefix, bf16, `.lora_up.weight` /
  `.lora_down.weight` pairs (one with a `.alpha`, one without), `.diff` (norm weight), `.diff_b` (bias) and
  `.diff_m` (block modulation) tensors added directly.
* lora_diffusers_a_b.safetensors: diffusers names, no prefix, f32, `.lora_A.weight` / `.lora_B.weight` pairs (one
  with an `.alpha`, one on a tensor the first file changes too) and a `.diff_b`.

and merged_reference.safetensors, the f32 tensors LightX2V's converter (tools/convert/converter.py, load_loras ->
lightx2v/utils/lora_loader.py LoRALoader.apply_lora) gives for the tensors the LoRAs change, under the original
names, computed in float32 from the stored bf16 weights:

* "two_loras/<name>": lora_wan_up_down at strength 0.8, then lora_diffusers_a_b at strength 0.5, no global alpha.
  The second file is applied to the model under diffusers names, as LightX2V applies a diffusers-named LoRA to
  a diffusers-named model.
* "global_alpha/<name>": lora_wan_up_down alone at strength 1 with a global alpha of 2 (converter --lora_alpha 2):
  pairs with their own `.alpha` keep it, the others get 2 / rank, and diffs are scaled by 2.

Every merged tensor is also checked against the formula W += strength * (alpha / rank) * up @ down (scale 1
without any alpha), diffs W += strength * [alpha] * diff.

Also two small LoRAs the CLI error tests use: lora_unmatched.safetensors (a block the model does not have) and
lora_bad_shape.safetensors (an up matrix of the wrong height).

Dev only:  pip install torch safetensors loguru
           python3 tools/reference/make_lora_fixtures.py --lightx2v-repo PATH_TO_LightX2V_CHECKOUT
"""
import argparse
import importlib.util
import pathlib

import torch
from safetensors.torch import load_file, save_file

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODEL = ROOT / "tests" / "fixtures" / "wan_dit" / "t2v" / "model_original" / "diffusion_pytorch_model.safetensors"
OUT = ROOT / "tests" / "fixtures" / "lora"
SEED = 20240611

# Diffusers names of the original names the second LoRA touches (the model fixture's own two namings).
DIFFUSERS = {
    "blocks.0.self_attn.q.weight": "blocks.0.attn1.to_q.weight",
    "head.head.weight": "proj_out.weight",
    "text_embedding.0.bias": "condition_embedder.text_embedder.linear_1.bias",
}


def load_lora_loader(repo: pathlib.Path):
    """LightX2V's LoRALoader, loaded from its file alone (the package needs far more than torch)."""
    spec = importlib.util.spec_from_file_location("lightx2v_lora_loader", repo / "lightx2v" / "utils" / "lora_loader.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.LoRALoader


def make_loras(generator):
    def randn(*shape, scale=0.05):
        return torch.randn(*shape, generator=generator) * scale

    wan = {}
    base = "diffusion_model.blocks.0.self_attn.q"
    wan[f"{base}.lora_up.weight"] = randn(128, 4)
    wan[f"{base}.lora_down.weight"] = randn(4, 128)
    wan[f"{base}.alpha"] = torch.tensor(8.0)  # scale 8 / 4 = 2
    base = "diffusion_model.text_embedding.0"
    wan[f"{base}.lora_up.weight"] = randn(128, 2, scale=0.2)
    wan[f"{base}.lora_down.weight"] = randn(2, 32, scale=0.2)
    wan["diffusion_model.blocks.0.cross_attn.o.diff_b"] = randn(128)
    wan["diffusion_model.blocks.1.norm3.diff"] = randn(128)
    wan["diffusion_model.blocks.0.diff_m"] = randn(1, 6, 128)
    wan = {name: value.to(torch.bfloat16) for name, value in wan.items()}

    diffusers = {}
    diffusers["blocks.0.attn1.to_q.lora_A.weight"] = randn(2, 128)
    diffusers["blocks.0.attn1.to_q.lora_B.weight"] = randn(128, 2)
    diffusers["blocks.0.attn1.to_q.alpha"] = torch.tensor(1.0)  # scale 1 / 2
    diffusers["proj_out.lora_A.weight"] = randn(3, 128, scale=0.1)
    diffusers["proj_out.lora_B.weight"] = randn(64, 3, scale=0.1)
    diffusers["condition_embedder.text_embedder.linear_1.diff_b"] = randn(128)
    return wan, diffusers


def formula(weights, lora, prefix, strength, global_alpha, rename=lambda name: name):
    """The merge written out: pairs W += strength * (alpha / rank) * up @ down, diffs W += strength * [alpha] * diff."""
    merged = {}
    for key, value in lora.items():
        for up_suffix, down_suffix in [(".lora_up.weight", ".lora_down.weight"), (".lora_B.weight", ".lora_A.weight")]:
            if key.endswith(up_suffix):
                base = key[: -len(up_suffix)]
                down = lora[base + down_suffix].float()
                alpha = lora.get(base + ".alpha")
                alpha = float(alpha) if alpha is not None else global_alpha
                scale = alpha / down.shape[0] if alpha is not None else 1.0
                name = rename(base[len(prefix):] + ".weight")
                merged[name] = merged.get(name, weights[name]) + strength * scale * (value.float() @ down)
        for suffix, target in [(".diff", ".weight"), (".diff_b", ".bias"), (".diff_m", ".modulation")]:
            if key.endswith(suffix):
                name = rename(key[len(prefix): -len(suffix)] + target)
                factor = strength * (global_alpha if global_alpha is not None else 1.0)
                merged[name] = merged.get(name, weights[name]) + factor * value.float()
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lightx2v-repo", type=pathlib.Path, required=True,
                        help="a checkout of github.com/ModelTC/LightX2V (the folder holding lightx2v/)")
    arguments = parser.parse_args()
    LoRALoader = load_lora_loader(arguments.lightx2v_repo.resolve())
    generator = torch.Generator().manual_seed(SEED)
    model = {name: value.float() for name, value in load_file(str(MODEL)).items()}
    wan, diffusers = make_loras(generator)
    OUT.mkdir(parents=True, exist_ok=True)
    save_file(wan, str(OUT / "lora_wan_up_down.safetensors"))
    save_file(diffusers, str(OUT / "lora_diffusers_a_b.safetensors"))

    expected = {}
    # Scenario 1: both LoRAs in order, as `converter.py --lora_path A B --lora_strength 0.8 0.5`.
    weights = {name: value.clone() for name, value in model.items()}
    applied = LoRALoader().apply_lora(weight_dict=weights, lora_weights=wan, alpha=None, strength=0.8)
    assert applied == 5, applied
    diffusers_view = {DIFFUSERS.get(name, name): value for name, value in weights.items()}  # same tensors
    applied = LoRALoader().apply_lora(weight_dict=diffusers_view, lora_weights=diffusers, alpha=None, strength=0.5)
    assert applied == 3, applied
    by_formula = formula(model, wan, "diffusion_model.", 0.8, None)
    inverse = {value: key for key, value in DIFFUSERS.items()}
    for name, value in formula(model | by_formula, diffusers, "", 0.5, None,
                               rename=lambda n: inverse.get(n, n)).items():
        by_formula[name] = value
    for name, value in by_formula.items():
        assert torch.allclose(weights[name], value, rtol=1e-5, atol=1e-6), name
        assert not torch.equal(weights[name], model[name]), name
        expected["two_loras/" + name] = weights[name].contiguous()

    # Scenario 2: the first LoRA with a global alpha, as `converter.py --lora_path A --lora_alpha 2`.
    weights = {name: value.clone() for name, value in model.items()}
    applied = LoRALoader().apply_lora(weight_dict=weights, lora_weights=wan, alpha=2.0, strength=1.0)
    assert applied == 5, applied
    for name, value in formula(model, wan, "diffusion_model.", 1.0, 2.0).items():
        assert torch.allclose(weights[name], value, rtol=1e-5, atol=1e-6), name
        expected["global_alpha/" + name] = weights[name].contiguous()
    save_file(expected, str(OUT / "merged_reference.safetensors"))

    # For the CLI's error tests.
    save_file({"diffusion_model.blocks.7.self_attn.q.lora_up.weight": torch.zeros(128, 2),
               "diffusion_model.blocks.7.self_attn.q.lora_down.weight": torch.zeros(2, 128)},
              str(OUT / "lora_unmatched.safetensors"))
    save_file({"diffusion_model.blocks.0.self_attn.k.lora_up.weight": torch.zeros(100, 2),
               "diffusion_model.blocks.0.self_attn.k.lora_down.weight": torch.zeros(2, 128)},
              str(OUT / "lora_bad_shape.safetensors"))
    for path in sorted(OUT.iterdir()):
        print(f"{path.name}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
