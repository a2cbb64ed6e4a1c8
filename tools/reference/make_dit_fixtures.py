"""Writes the Wan2.1 DiT golden fixtures (tests/fixtures/wan_dit/) with the official Wan code and diffusers.

Small seeded-random models (T2V and I2V) are built with the official `WanModel` (wan/modules/model.py), saved
with the original Wan names and (T2V) the diffusers names, and run on seeded inputs in float32. The diffusers
`WanTransformer3DModel` is loaded from the renamed weights and must agree with the official model, which checks
the name mapping independently of x2v. Sampling runs use the official FlowUniPCMultistepScheduler, plus
Euler and LightX2V's step-distill formulas on the same sigma schedules.

Dev only:  pip install torch diffusers safetensors numpy
           python3 tools/reference/make_dit_fixtures.py --wan-repo PATH_TO_Wan2.1_CHECKOUT
"""
import argparse
import importlib.util
import json
import pathlib
import sys
import types

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "wan_dit"

SMALL = dict(dim=128, ffn_dim=256, num_heads=2, num_layers=2, text_dim=32, freq_dim=256, out_dim=16,
             text_len=512, eps=1e-6)
CLIP_DIM = 48          # the real CLIP width is 1280; any width works and keeps the fixture small
LATENT = (3, 8, 12)    # F, H, W of the latent: 3 * 4 * 6 = 72 tokens
TEXT_TOKENS = 7        # unpadded prompt length
NULL_TOKENS = 5


def load_official(wan_repo: pathlib.Path):
    """Imports wan.modules.model and wan.utils.fm_solvers_unipc without running wan/__init__.py."""
    for name, sub in [("wan", ""), ("wan.modules", "modules"), ("wan.utils", "utils")]:
        package = types.ModuleType(name)
        package.__path__ = [str(wan_repo / "wan" / sub)]
        sys.modules[name] = package

    def load(name, relative):
        spec = importlib.util.spec_from_file_location(name, wan_repo / relative)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    attention = load("wan.modules.attention", "wan/modules/attention.py")
    model = load("wan.modules.model", "wan/modules/model.py")

    def sdpa_attention(q, k, v, q_lens=None, k_lens=None, softmax_scale=None, **_):
        # flash_attn is CUDA-only; exact attention in the inputs' dtype, masking keys past k_lens.
        mask = None
        if k_lens is not None:
            mask = torch.arange(k.shape[1])[None, :] < k_lens[:, None]
            mask = mask[:, None, None, :]
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                             attn_mask=mask, scale=softmax_scale)
        return out.transpose(1, 2).contiguous()

    attention.flash_attention = sdpa_attention
    model.flash_attention = sdpa_attention
    solvers = load("wan.utils.fm_solvers_unipc", "wan/utils/fm_solvers_unipc.py")
    return model, solvers


def randomize(module: torch.nn.Module, seed: int) -> None:
    """Seeded random parameters at sane scales, rounded to bf16 so the bf16 checkpoint is exact."""
    generator = torch.Generator().manual_seed(seed)
    for name, parameter in module.named_parameters():
        shape = parameter.shape
        if name.endswith("modulation"):
            values = torch.randn(shape, generator=generator) / shape[-1] ** 0.5
        elif parameter.ndim == 1 and ("norm" in name or name.endswith(("proj.0.weight", "proj.4.weight"))):
            values = 1.0 + 0.1 * torch.randn(shape, generator=generator)
        elif parameter.ndim == 1:
            values = 0.1 * torch.randn(shape, generator=generator)
        else:
            fan_in = int(np.prod(shape[1:]))
            values = torch.randn(shape, generator=generator) / fan_in ** 0.5
        parameter.data = values.to(torch.bfloat16).to(torch.float32)


DIFFUSERS_BLOCK = [("self_attn.q.", "attn1.to_q."), ("self_attn.k.", "attn1.to_k."), ("self_attn.v.", "attn1.to_v."),
                   ("self_attn.o.", "attn1.to_out.0."), ("self_attn.norm_q.", "attn1.norm_q."),
                   ("self_attn.norm_k.", "attn1.norm_k."), ("cross_attn.q.", "attn2.to_q."),
                   ("cross_attn.k.", "attn2.to_k."), ("cross_attn.v.", "attn2.to_v."),
                   ("cross_attn.o.", "attn2.to_out.0."), ("cross_attn.norm_q.", "attn2.norm_q."),
                   ("cross_attn.norm_k.", "attn2.norm_k."), ("cross_attn.k_img.", "attn2.add_k_proj."),
                   ("cross_attn.v_img.", "attn2.add_v_proj."), ("cross_attn.norm_k_img.", "attn2.norm_added_k."),
                   ("norm3.", "norm2."), ("ffn.0.", "ffn.net.0.proj."), ("ffn.2.", "ffn.net.2."),
                   ("modulation", "scale_shift_table")]
DIFFUSERS_TOP = [("text_embedding.0.", "condition_embedder.text_embedder.linear_1."),
                 ("text_embedding.2.", "condition_embedder.text_embedder.linear_2."),
                 ("time_embedding.0.", "condition_embedder.time_embedder.linear_1."),
                 ("time_embedding.2.", "condition_embedder.time_embedder.linear_2."),
                 ("time_projection.1.", "condition_embedder.time_proj."),
                 ("head.modulation", "scale_shift_table"), ("head.head.", "proj_out."),
                 ("img_emb.proj.0.", "condition_embedder.image_embedder.norm1."),
                 ("img_emb.proj.1.", "condition_embedder.image_embedder.ff.net.0.proj."),
                 ("img_emb.proj.3.", "condition_embedder.image_embedder.ff.net.2."),
                 ("img_emb.proj.4.", "condition_embedder.image_embedder.norm2."),
                 ("patch_embedding.", "patch_embedding.")]


def to_diffusers_name(name: str) -> str:
    if name.startswith("blocks."):
        _, index, rest = name.split(".", 2)
        for old, new in DIFFUSERS_BLOCK:
            if rest.startswith(old):
                return f"blocks.{index}.{new}{rest[len(old):]}"
        raise KeyError(name)
    for old, new in DIFFUSERS_TOP:
        if name.startswith(old):
            return new + name[len(old):]
    raise KeyError(name)


def save_model_dir(directory: pathlib.Path, state: dict, config: dict) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {name: value.detach().to(torch.bfloat16).contiguous() for name, value in state.items()}
    save_file(tensors, str(directory / "diffusion_pytorch_model.safetensors"))
    (directory / "config.json").write_text(json.dumps(config, indent=2) + "\n")


def save_tensors(path: pathlib.Path, tensors: dict) -> None:
    save_file({name: value.detach().to(torch.float32).contiguous() for name, value in tensors.items()}, str(path))


def official_config(model_type: str, in_dim: int) -> dict:
    return {"_class_name": "WanModel", "model_type": model_type, "patch_size": [1, 2, 2], "in_dim": in_dim,
            **SMALL, "window_size": [-1, -1], "qk_norm": True, "cross_attn_norm": True}


def diffusers_config(in_dim: int, image: bool) -> dict:
    return {"_class_name": "WanTransformer3DModel", "patch_size": [1, 2, 2],
            "num_attention_heads": SMALL["num_heads"], "attention_head_dim": SMALL["dim"] // SMALL["num_heads"],
            "in_channels": in_dim, "out_channels": SMALL["out_dim"], "text_dim": SMALL["text_dim"],
            "freq_dim": SMALL["freq_dim"], "ffn_dim": SMALL["ffn_dim"], "num_layers": SMALL["num_layers"],
            "cross_attn_norm": True, "qk_norm": "rms_norm_across_heads", "eps": SMALL["eps"],
            "image_dim": CLIP_DIM if image else None, "added_kv_proj_dim": SMALL["dim"] if image else None,
            "rope_max_seq_len": 1024}


def build_model(wan_model, model_type: str, seed: int):
    in_dim = 36 if model_type == "i2v" else 16
    config = official_config(model_type, in_dim)
    arguments = {k: v for k, v in config.items() if not k.startswith("_")}
    arguments["patch_size"] = tuple(arguments["patch_size"])
    arguments["window_size"] = tuple(arguments["window_size"])
    model = wan_model.WanModel(**arguments)
    if model_type == "i2v":
        model.img_emb = wan_model.MLPProj(CLIP_DIM, SMALL["dim"])
    randomize(model, seed)
    return model.eval(), config


def forward(model, x, t, context, clip_fea=None, y=None):
    seq_len = x.shape[1] * (x.shape[2] // 2) * (x.shape[3] // 2)
    return model([x], t=t, context=[context], seq_len=seq_len,
                 clip_fea=None if clip_fea is None else clip_fea[None], y=None if y is None else [y])[0]


def capture_forward(model, inputs: dict) -> dict:
    """One forward pass, with the per-block activations and the embeddings captured by hooks."""
    captured = {}
    handles = [block.register_forward_hook(lambda _m, _i, out, i=i: captured.__setitem__(f"block_{i}", out[0]))
               for i, block in enumerate(model.blocks)]
    handles.append(model.time_embedding.register_forward_hook(
        lambda _m, _i, out: captured.__setitem__("time_embedding", out[0])))
    handles.append(model.time_projection.register_forward_hook(
        lambda _m, _i, out: captured.__setitem__("time_projection", out[0].unflatten(0, (6, -1)))))
    handles.append(model.text_embedding.register_forward_hook(
        lambda _m, _i, out: captured.__setitem__("text_embedding", out[0][:16])))
    out = forward(model, inputs["x"], inputs["t"], inputs["context"], inputs.get("clip_fea"), inputs.get("y"))
    for handle in handles:
        handle.remove()
    captured["out"] = out
    return captured


def check_diffusers_agrees(official_state: dict, inputs: dict, expected: torch.Tensor, image: bool) -> None:
    from diffusers import WanTransformer3DModel
    config = diffusers_config(36 if image else 16, image)
    model = WanTransformer3DModel(**{k: v for k, v in config.items() if not k.startswith("_")}).eval()
    renamed = {to_diffusers_name(name): value for name, value in official_state.items()}
    missing, unexpected = model.load_state_dict(renamed, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    x = inputs["x"]
    if image:
        x = torch.cat([x, inputs["y"]])
    context = torch.cat([inputs["context"], inputs["context"].new_zeros(512 - inputs["context"].shape[0],
                                                                         inputs["context"].shape[1])])
    with torch.no_grad():
        out = model(x[None], inputs["t"], context[None],
                    encoder_hidden_states_image=inputs["clip_fea"][None] if image else None).sample[0]
    error = (out - expected).abs().max() / expected.abs().max()
    print(f"  diffusers vs official: max relative error {error:.2e}")
    assert error < 2e-5, "the diffusers names or model disagree with the official model"


def unipc_tables(solvers, steps: int, shift: float):
    scheduler = solvers.FlowUniPCMultistepScheduler(num_train_timesteps=1000, shift=1, use_dynamic_shifting=False)
    scheduler.set_timesteps(steps, device="cpu", shift=shift)
    return scheduler, scheduler.timesteps.tolist(), scheduler.sigmas.tolist()


def guided(model, latents, t, inputs, guide_scale, enable_cfg):
    extra = dict(clip_fea=inputs.get("clip_fea"), y=inputs.get("y"))
    cond = forward(model, latents, t, inputs["context"], **extra)
    if not enable_cfg:
        return cond
    uncond = forward(model, latents, t, inputs["context_null"], **extra)
    return uncond + guide_scale * (cond - uncond)


def sample_unipc(model, solvers, inputs, steps, shift, guide_scale, enable_cfg):
    scheduler, _, _ = unipc_tables(solvers, steps, shift)
    latents = inputs["noise"].clone()
    for t in scheduler.timesteps:
        v = guided(model, latents, torch.stack([t]), inputs, guide_scale, enable_cfg)
        latents = scheduler.step(v[None], t, latents[None], return_dict=False)[0][0]
    return latents


def sample_euler(model, solvers, inputs, steps, shift, guide_scale, enable_cfg):
    scheduler, timesteps, sigmas = unipc_tables(solvers, steps, shift)
    latents = inputs["noise"].clone()
    for i, t in enumerate(scheduler.timesteps):
        v = guided(model, latents, torch.stack([t]), inputs, guide_scale, enable_cfg)
        latents = latents + (sigmas[i + 1] - sigmas[i]) * v
    return latents


def distill_sigmas(step_list, shift):
    base = np.linspace(1.0, 0.0, 1001)[:-1]
    base = shift * base / (1 + (shift - 1) * base)
    return [float(base[1000 - step]) for step in step_list]


def sample_distill(model, inputs, step_list, shift):
    sigmas = distill_sigmas(step_list, shift)
    latents = inputs["noise"].clone()
    for i, sigma in enumerate(sigmas):
        t = torch.tensor([sigma * 1000.0], dtype=torch.float32)
        v = forward(model, latents, t, inputs["context"], inputs.get("clip_fea"), inputs.get("y"))
        x0 = latents - sigma * v
        latents = x0 if i + 1 == len(sigmas) else x0 + sigmas[i + 1] * v
    return latents


def make_inputs(model_type: str, seed: int) -> dict:
    generator = torch.Generator().manual_seed(seed)
    f, h, w = LATENT
    inputs = {
        "x": torch.randn(16, f, h, w, generator=generator),
        "t": torch.tensor([937.0]),
        "context": torch.randn(TEXT_TOKENS, SMALL["text_dim"], generator=generator),
        "context_null": torch.randn(NULL_TOKENS, SMALL["text_dim"], generator=generator),
        "noise": torch.randn(16, f, h, w, generator=generator),
    }
    if model_type == "i2v":
        inputs["clip_fea"] = torch.randn(257, CLIP_DIM, generator=generator)
        inputs["y"] = torch.randn(20, f, h, w, generator=generator)
    return inputs


def write_variant(wan_model, solvers, model_type: str, seed: int) -> None:
    directory = OUT / model_type
    print(f"{model_type}:")
    model, config = build_model(wan_model, model_type, seed)
    state = {name: value for name, value in model.state_dict().items() if name != "freqs"}
    save_model_dir(directory / "model_original", state, config)
    if model_type == "t2v":
        save_model_dir(directory / "model_diffusers", {to_diffusers_name(k): v for k, v in state.items()},
                       diffusers_config(16, False))
    inputs = make_inputs(model_type, seed + 1)
    forward_inputs = {k: inputs[k] for k in ["x", "t", "context", "clip_fea", "y"] if k in inputs}
    save_tensors(directory / "forward_inputs.safetensors", forward_inputs)
    with torch.no_grad():
        captured = capture_forward(model, inputs)
        check_diffusers_agrees(state, inputs, captured["out"], model_type == "i2v")
        save_tensors(directory / "forward_outputs.safetensors", captured)
        sample_inputs = {k: inputs[k] for k in ["noise", "context", "context_null", "clip_fea", "y"] if k in inputs}
        save_tensors(directory / "sample_inputs.safetensors", sample_inputs)
        runs = {}
        if model_type == "t2v":
            plans = [("unipc_cfg", "unipc", True), ("unipc_nocfg", "unipc", False), ("euler_cfg", "euler", True),
                     ("euler_nocfg", "euler", False), ("distill", "distill", False)]
        else:
            plans = [("unipc_cfg", "unipc", True), ("distill", "distill", False)]
        run_configs = {}
        for name, solver, enable_cfg in plans:
            steps, shift, guide = 4, 5.0, 5.0
            if solver == "unipc":
                latents = sample_unipc(model, solvers, inputs, steps, shift, guide, enable_cfg)
            elif solver == "euler":
                latents = sample_euler(model, solvers, inputs, steps, shift, guide, enable_cfg)
            else:
                latents = sample_distill(model, inputs, [1000, 750, 500, 250], shift)
            runs[name] = latents
            run_configs[name] = {"sample_solver": solver, "infer_steps": steps, "sample_shift": shift,
                                 "sample_guide_scale": guide, "enable_cfg": enable_cfg}
            if solver == "distill":
                run_configs[name].update({"denoising_step_list": [1000, 750, 500, 250], "infer_steps": 4})
            print(f"  {name}: |latents| max {latents.abs().max():.3f}")
        save_tensors(directory / "sample_outputs.safetensors", runs)
        (directory / "sample_runs.json").write_text(json.dumps(run_configs, indent=2) + "\n")


def write_scheduler_tables(solvers) -> None:
    tables = {}
    for steps, shift in [(50, 5.0), (40, 3.0), (4, 5.0), (25, 8.0)]:
        _, timesteps, sigmas = unipc_tables(solvers, steps, shift)
        tables[f"unipc_{steps}_{shift:g}"] = {"steps": steps, "shift": shift, "timesteps": timesteps,
                                              "sigmas": sigmas}
    tables["distill_1000_750_500_250_5"] = {"steps": [1000, 750, 500, 250], "shift": 5.0,
                                            "sigmas": distill_sigmas([1000, 750, 500, 250], 5.0)}
    (OUT / "scheduler_tables.json").write_text(json.dumps(tables, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wan-repo", type=pathlib.Path, required=True,
                        help="a checkout of github.com/Wan-Video/Wan2.1 (the folder holding wan/)")
    arguments = parser.parse_args()
    torch.set_num_threads(2)
    wan_model, solvers = load_official(arguments.wan_repo.resolve())
    OUT.mkdir(parents=True, exist_ok=True)
    write_scheduler_tables(solvers)
    write_variant(wan_model, solvers, "t2v", 100)
    write_variant(wan_model, solvers, "i2v", 200)
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
