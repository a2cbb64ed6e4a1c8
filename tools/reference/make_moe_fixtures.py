"""Writes the Wan2.2 A14B mixture-of-experts fixtures (tests/fixtures/wan_moe/) with the official Wan2.2 code.

Two small seeded-random experts of the official Wan2.2 WanModel (wan/modules/model.py: dim 128, 2 heads, 2 layers)
sample 10 steps with the loop of wan/text2video.py's generate(): the official FlowUniPCMultistepScheduler at shift
12, the high-noise expert while t >= boundary x 1000 (0.875) and the low-noise one after, guidance (3.0, 4.0) as
(low, high), CFG. The fixture records which expert ran at each step and the final latents. A third model, a
Wan2.2 I2V DiT (in_dim 36, no CLIP branch), records one forward pass with y.

Weights come from torch's CPU generator, one seed per tensor (torch.manual_seed(seed); torch.randn(numel) * scale +
offset), so the test regenerates them with x2v's torch-identical generator; the fixture holds the recipes, the
inputs and the outputs. flash_attn is CUDA-only: attention runs through PyTorch's exact SDPA in float32.

Dev only:  pip install torch numpy safetensors diffusers
           python3 tools/reference/make_moe_fixtures.py --wan22-repo PATH_TO_Wan2.2_CHECKOUT
"""
import argparse
import json
import pathlib
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import reference_common as common  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "wan_moe"
SMALL = dict(dim=128, ffn_dim=256, num_heads=2, num_layers=2, text_dim=32, freq_dim=256, out_dim=16,
             text_len=512, eps=1e-6)
LATENT = (16, 3, 8, 12)
STEPS, SHIFT, BOUNDARY, GUIDE = 10, 12.0, 0.875, (3.0, 4.0)  # GUIDE: (low noise, high noise), as Wan2.2


def load_official(repo: pathlib.Path):
    common.add_packages(repo, [("wan", "wan"), ("wan.modules", "wan/modules"), ("wan.utils", "wan/utils")])
    common.load_module("wan.modules.attention", repo / "wan/modules/attention.py")
    model = common.load_module("wan.modules.model", repo / "wan/modules/model.py")
    model.flash_attention = common.sdpa_attention
    solvers = common.load_module("wan.utils.fm_solvers_unipc", repo / "wan/utils/fm_solvers_unipc.py")
    return model, solvers


def scale_of(name, shape):
    if "norm" in name and len(shape) == 1 and name.endswith("weight"):
        return 0.1, 1.0
    if "modulation" in name or len(shape) == 1:
        return 0.1, 0.0
    return 1.0 / common.fan_in(shape) ** 0.5, 0.0


def build(wan_model, model_type, in_dim, base_seed):
    model = wan_model.WanModel(model_type=model_type, patch_size=(1, 2, 2), in_dim=in_dim, **SMALL).eval()
    state, recipe = common.seeded_weights([(n, p.shape) for n, p in model.state_dict().items()], base_seed, scale_of)
    model.load_state_dict(state)
    return model, recipe


def forward(model, x, t, context, y=None):
    seq_len = x.shape[1] * (x.shape[2] // 2) * (x.shape[3] // 2)
    return model([x], t=t, context=[context], seq_len=seq_len, y=None if y is None else [y])[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wan22-repo", type=pathlib.Path, required=True, help="a checkout of Wan-Video/Wan2.2")
    arguments = parser.parse_args()
    torch.set_num_threads(2)
    wan_model, solvers = load_official(arguments.wan22_repo.resolve())
    high, high_recipe = build(wan_model, "t2v", 16, 7000)
    low, low_recipe = build(wan_model, "t2v", 16, 8000)
    i2v, i2v_recipe = build(wan_model, "i2v", 36, 9000)

    generator = torch.Generator().manual_seed(17)
    noise = torch.randn(*LATENT, generator=generator)
    context = torch.randn(7, SMALL["text_dim"], generator=generator)
    context_null = torch.randn(5, SMALL["text_dim"], generator=generator)
    y = torch.randn(20, *LATENT[1:], generator=generator)

    # wan/text2video.py, generate(): the expert and the guidance per timestep.
    scheduler = solvers.FlowUniPCMultistepScheduler(num_train_timesteps=1000, shift=1, use_dynamic_shifting=False)
    scheduler.set_timesteps(STEPS, device="cpu", shift=SHIFT)
    boundary = BOUNDARY * 1000
    latents, experts = noise.clone(), []
    with torch.no_grad():
        for t in scheduler.timesteps:
            model = high if t.item() >= boundary else low
            experts.append("high" if t.item() >= boundary else "low")
            guide = GUIDE[1] if t.item() >= boundary else GUIDE[0]
            timestep = torch.stack([t])
            cond = forward(model, latents, timestep, context)
            uncond = forward(model, latents, timestep, context_null)
            v = uncond + guide * (cond - uncond)
            latents = scheduler.step(v.unsqueeze(0), t, latents.unsqueeze(0), return_dict=False)[0].squeeze(0)
        i2v_out = forward(i2v, noise, torch.tensor([700.0]), context, y=y)
    print(f"experts per step: {experts}")
    assert "high" in experts and "low" in experts
    OUT.mkdir(parents=True, exist_ok=True)
    save_file({"noise": noise, "context": context, "context_null": context_null, "y": y,
               "latents": latents.contiguous(), "i2v_out": i2v_out.contiguous()}, str(OUT / "moe.safetensors"))
    config = {"dim": SMALL["dim"], "num_heads": SMALL["num_heads"], "ffn_dim": SMALL["ffn_dim"],
              "eps": SMALL["eps"], "text_len": SMALL["text_len"]}
    run = {"infer_steps": STEPS, "sample_shift": SHIFT, "boundary": BOUNDARY, "sample_guide_scale": [GUIDE[1], GUIDE[0]],
           "enable_cfg": True, "sample_solver": "unipc"}
    (OUT / "moe.json").write_text(json.dumps({"config": config, "run": run, "experts": experts, "i2v_timestep": 700.0,
                                              "high": high_recipe, "low": low_recipe, "i2v": i2v_recipe}) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
