"""Writes the LightVAE decode fixture (tests/fixtures/lightvae/) with LightX2V's own pruned VAE class.

LightX2V builds LightVAE as its WanVAE_ (lightx2v/models/video_encoders/hf/wan/vae.py) with pruning_rate 0.75
of the Wan2.1 VAE's base width 96 (use_lightvae). This script builds that class the same way, draws every weight
with torch's CPU generator from a per-tensor seed (torch.manual_seed(seed); torch.randn(numel) * scale + offset,
in float32), and decodes seeded normalized latents as LightX2V's WanVAE.decode does (its mean and 1/std scale,
the causal chunk-by-chunk decode, the clamp to [-1, 1]). The test regenerates the weights with x2v's
torch-identical generator, so the fixture holds only the recipe, the latents and the video.

Dev only:  pip install torch numpy safetensors
           python3 tools/reference/make_lightvae_fixtures.py --lightx2v-repo PATH_TO_LightX2V_CHECKOUT
"""
import argparse
import importlib.util
import json
import pathlib
import sys
import types

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import reference_common as common  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "lightvae"
LATENT = (16, 2, 4, 6)  # channels, latent frames, height, width: 5 frames of 32x48
BASE_SEED = 3000
MEAN = [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
        0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921]
STD = [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
       3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160]


def stub(name: str, **attributes) -> None:
    module = types.ModuleType(name)
    module.__path__ = []
    for key, value in attributes.items():
        setattr(module, key, value)
    sys.modules[name] = module


def load_lightx2v_vae(repo: pathlib.Path):
    """Imports LightX2V's vae.py alone: its package-level imports are stubbed with what the decode path needs."""
    class Logger:
        def info(self, *args, **kwargs):
            pass

        warning = info

    if importlib.util.find_spec("einops") is None:
        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
        from make_vae_fixtures import einops_shim  # the two patterns the VAE's attention uses
        sys.modules["einops"] = einops_shim()
    if importlib.util.find_spec("loguru") is None:
        stub("loguru", logger=Logger())
    stub("lightx2v")
    stub("lightx2v.utils")
    stub("lightx2v.utils.envs", GET_USE_CHANNELS_LAST_3D=lambda: False)
    stub("lightx2v.utils.utils", load_weights=None)
    stub("lightx2v_platform")
    stub("lightx2v_platform.base")
    stub("lightx2v_platform.base.global_var", AI_DEVICE="cpu")
    return common.load_module("lightx2v_wan_vae", repo / "lightx2v/models/video_encoders/hf/wan/vae.py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lightx2v-repo", type=pathlib.Path, required=True, help="a checkout of ModelTC/LightX2V")
    arguments = parser.parse_args()
    torch.set_num_threads(2)
    vae = load_lightx2v_vae(arguments.lightx2v_repo.resolve())
    # _video_vae's configuration with use_lightvae's pruning rate.
    model = vae.WanVAE_(dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                        temperal_downsample=[False, True, True], dropout=0.0, pruning_rate=0.75).eval()
    state, recipe = common.seeded_weights([(n, p.shape) for n, p in model.state_dict().items()], BASE_SEED,
                                          common.vae_scale_of)
    model.load_state_dict(state)
    print(f"LightVAE: base width {model.encoder.conv1.out_channels}, "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters")
    generator = torch.Generator().manual_seed(11)
    latents = torch.randn(*LATENT, generator=generator)
    scale = [torch.tensor(MEAN), 1.0 / torch.tensor(STD)]
    with torch.no_grad():
        video = model.decode(latents.unsqueeze(0), scale).clamp_(-1, 1)[0]  # LightX2V's WanVAE.decode
    clamped = ((video <= -1) | (video >= 1)).float().mean().item()
    print(f"video {tuple(video.shape)}, std {video.std().item():.3f}, clamped {clamped:.3f}")
    OUT.mkdir(parents=True, exist_ok=True)
    save_file({"latents": latents.contiguous(), "video": video.contiguous()}, str(OUT / "decode.safetensors"))
    (OUT / "weights.json").write_text(json.dumps(recipe, indent=0) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
