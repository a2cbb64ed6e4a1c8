"""Writes the Wan2.2 TI2V-5B image-to-video fixture (tests/fixtures/wan_ti2v/) with the official Wan2.2 code.

A small seeded-random TI2V DiT (the official WanModel, model_type 'ti2v', 48 latent channels in and out) samples 4
UniPC steps with the loop of wan/textimage2video.py's i2v(): the first latent frame set to the image latent z before
the first step and after every step (masks_like(zero=True)), its tokens at timestep 0 (temp_ts), CFG. The fixture
holds the recipe, z, the noise, the contexts and the final latents. The image latent is given directly (the Wan2.2
VAE has its own fixture).

Dev only:  pip install torch numpy safetensors diffusers
           python3 tools/reference/make_ti2v_fixtures.py --wan22-repo PATH_TO_Wan2.2_CHECKOUT
"""
import argparse
import ast
import json
import pathlib
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import make_moe_fixtures as moe  # noqa: E402  (the official loader and the small DiT's recipe rules)
import reference_common as common  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "wan_ti2v"
LATENT = (48, 3, 4, 6)
STEPS, SHIFT, GUIDE = 4, 5.0, 5.0
SHAPE_CASES = [(100, 150, 704, 1280), (1080, 1920, 704, 1280), (1920, 1080, 704, 1280), (512, 512, 704, 1280),
               (300, 1200, 704, 1280), (768, 1024, 128, 192), (100, 150, 128, 192)]  # image h, w; target h, w


def official_best_output_size(repo: pathlib.Path):
    """wan/utils/utils.py's best_output_size, run from its source alone (the module imports imageio and
    torchvision, which it does not need)."""
    tree = ast.parse((repo / "wan/utils/utils.py").read_text())
    function = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "best_output_size")
    namespace = {}
    exec(compile(ast.Module(body=[function], type_ignores=[]), "utils.py", "exec"), namespace)
    return namespace["best_output_size"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wan22-repo", type=pathlib.Path, required=True, help="a checkout of Wan-Video/Wan2.2")
    arguments = parser.parse_args()
    torch.set_num_threads(2)
    wan_model, solvers = moe.load_official(arguments.wan22_repo.resolve())
    small = dict(moe.SMALL, out_dim=48)
    model = wan_model.WanModel(model_type="ti2v", patch_size=(1, 2, 2), in_dim=48, **small).eval()
    state, recipe = common.seeded_weights([(n, p.shape) for n, p in model.state_dict().items()], 12000,
                                          moe.scale_of)
    model.load_state_dict(state)

    generator = torch.Generator().manual_seed(23)
    noise = torch.randn(*LATENT, generator=generator)
    z = torch.randn(LATENT[0], 1, *LATENT[2:], generator=generator)
    context = torch.randn(7, small["text_dim"], generator=generator)
    context_null = torch.randn(5, small["text_dim"], generator=generator)
    seq_len = LATENT[1] * (LATENT[2] // 2) * (LATENT[3] // 2)

    scheduler = solvers.FlowUniPCMultistepScheduler(num_train_timesteps=1000, shift=1, use_dynamic_shifting=False)
    scheduler.set_timesteps(STEPS, device="cpu", shift=SHIFT)
    # textimage2video.py, i2v():
    mask2 = torch.ones_like(noise)
    mask2[:, 0] = 0
    latent = (1. - mask2) * z + mask2 * noise
    with torch.no_grad():
        for t in scheduler.timesteps:
            timestep = torch.stack([t])
            temp_ts = (mask2[0][:, ::2, ::2] * timestep).flatten()
            temp_ts = torch.cat([temp_ts, temp_ts.new_ones(seq_len - temp_ts.size(0)) * timestep])
            timestep = temp_ts.unsqueeze(0)
            cond = model([latent], t=timestep, context=[context], seq_len=seq_len)[0]
            uncond = model([latent], t=timestep, context=[context_null], seq_len=seq_len)[0]
            v = uncond + GUIDE * (cond - uncond)
            latent = scheduler.step(v.unsqueeze(0), t, latent.unsqueeze(0), return_dict=False)[0].squeeze(0)
            latent = (1. - mask2) * z + mask2 * latent
    print(f"latents {tuple(latent.shape)}, std {latent.std().item():.3f}")
    OUT.mkdir(parents=True, exist_ok=True)
    save_file({"noise": noise, "z": z, "context": context, "context_null": context_null, "latents": latent.contiguous()},
              str(OUT / "ti2v.safetensors"))
    config = {"dim": small["dim"], "num_heads": small["num_heads"], "ffn_dim": small["ffn_dim"], "eps": small["eps"],
              "text_len": small["text_len"]}
    run = {"infer_steps": STEPS, "sample_shift": SHIFT, "sample_guide_scale": GUIDE, "enable_cfg": True,
           "sample_solver": "unipc"}
    best_output_size = official_best_output_size(arguments.wan22_repo.resolve())
    shapes = []
    for ih, iw, th, tw in SHAPE_CASES:
        ow, oh = best_output_size(iw, ih, 32, 32, th * tw)  # textimage2video.py: dw = dh = 2 x 16
        shapes.append({"image": [ih, iw], "target": [th, tw], "output": [oh, ow]})
    (OUT / "ti2v.json").write_text(json.dumps({"config": config, "run": run, "shapes": shapes, "weights": recipe}) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
