"""Writes the TAEHV decoder fixtures (tests/fixtures/taehv/) with madebyollin's taehv.py (github.com/madebyollin/taehv),
the tiny decoder LightX2V's use_tae runs for Wan2.1 (taew2_1: 16 latent channels, patch size 1).

The decoder's weights are drawn with torch's CPU generator, one seed per tensor (torch.manual_seed(seed);
torch.randn(numel) * scale in float32), so the test regenerates them with x2v's torch-identical generator and
the fixture holds only the recipe, the input latents and the decoded frames. The reference decodes both
sequentially (frame by frame, as x2v streams) and in parallel, which must agree. The weights' scale (1/sqrt(fan_in))
leaves about a quarter of the output clamped, so a bf16 decode's error is measurable rather than hidden by saturation.

LightTAE (lighttaew2_1, need_scaled) is the same network fed un-normalized latents; its frames come from LightX2V's
own wrapper (lightx2v/models/video_encoders/hf/wan/vae_tiny.py: WanVAE_tiny with need_scaled=True, over LightX2V's
copy of TAEHV), loading the same weights from a .pth, in float32.

Dev only:  pip install torch numpy safetensors tqdm
           python3 tools/reference/make_taehv_fixtures.py --taehv-repo PATH_TO_taehv_CHECKOUT \
               --lightx2v-repo PATH_TO_LightX2V_CHECKOUT
"""
import argparse
import importlib.util
import json
import pathlib
import sys
import tempfile
import types

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import reference_common as common  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "taehv"
LATENT = (16, 3, 4, 6)  # channels, latent frames, height, width: 9 frames of 32x48 out
BASE_SEED = 1000


def load_taehv(repo: pathlib.Path):
    spec = importlib.util.spec_from_file_location("taehv", repo / "taehv.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_lightx2v_tiny_vae(repo: pathlib.Path):
    """Imports LightX2V's WanVAE_tiny and its TAEHV without the rest of the lightx2v package."""
    for package in ["lightx2v", "lightx2v.models", "lightx2v.models.video_encoders", "lightx2v.models.video_encoders.hf",
                    "lightx2v.models.video_encoders.hf.wan"]:
        sys.modules.setdefault(package, types.ModuleType(package))
    hf = repo / "lightx2v" / "models" / "video_encoders" / "hf"
    common.load_module("lightx2v.models.video_encoders.hf.tae", hf / "tae.py")
    return common.load_module("lightx2v.models.video_encoders.hf.wan.vae_tiny", hf / "wan" / "vae_tiny.py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--taehv-repo", type=pathlib.Path, required=True, help="a checkout of madebyollin/taehv")
    parser.add_argument("--lightx2v-repo", type=pathlib.Path, required=True, help="a checkout of ModelTC/LightX2V")
    arguments = parser.parse_args()
    torch.set_num_threads(2)
    taehv = load_taehv(arguments.taehv_repo.resolve())
    model = taehv.TAEHV(checkpoint_path=None).eval()
    recipe = []
    state = {}
    for index, (name, parameter) in enumerate(model.decoder.state_dict().items()):
        seed = BASE_SEED + index
        if name.endswith("bias"):
            scale = 0.05
        else:
            fan_in = parameter[0].numel()
            scale = 1.0 / fan_in ** 0.5
        scale = float(torch.tensor(scale, dtype=torch.float32))
        torch.manual_seed(seed)
        values = torch.randn(parameter.numel()) * torch.tensor(scale, dtype=torch.float32)
        state[name] = values.reshape(parameter.shape)
        recipe.append({"name": "decoder." + name, "shape": list(parameter.shape), "seed": seed, "scale": scale})
    model.decoder.load_state_dict(state)
    generator = torch.Generator().manual_seed(7)
    channels, frames, height, width = LATENT
    latents = torch.randn(1, frames, channels, height, width, generator=generator) * 1.5
    with torch.no_grad():
        sequential = model.decode_video(latents, parallel=False, show_progress_bar=False)
        parallel = model.decode_video(latents, parallel=True, show_progress_bar=False)
    error = (sequential - parallel).abs().max().item()
    print(f"sequential vs parallel: max abs difference {error:.2e}; frames {tuple(sequential.shape)}")
    assert error < 2e-3  # float32 convolutions batched over frames or not
    clamped = ((sequential <= 0) | (sequential >= 1)).float().mean().item()
    print(f"fraction of output values clamped: {clamped:.3f}")

    tiny_vae = load_lightx2v_tiny_vae(arguments.lightx2v_repo.resolve())
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "lighttaew2_1.pth"
        torch.save(model.state_dict(), path)
        light = tiny_vae.WanVAE_tiny(vae_path=str(path), dtype=torch.float32, device="cpu", need_scaled=True)
        plain = tiny_vae.WanVAE_tiny(vae_path=str(path), dtype=torch.float32, device="cpu", need_scaled=False)
    latents_ctHW = latents[0].permute(1, 0, 2, 3).contiguous()  # LightX2V's decode takes [C, T, h, w]
    with torch.no_grad():
        scaled_frames = light.decode(latents_ctHW)[0]  # [3, T, H, W] in [-1, 1]
        plain_frames = plain.decode(latents_ctHW)[0]
    # LightX2V's wrapper without need_scaled is madebyollin's decode mapped to [-1, 1].
    error = (plain_frames - (sequential[0].permute(1, 0, 2, 3) * 2 - 1)).abs().max().item()
    print(f"LightX2V's WanVAE_tiny vs taehv.py: max abs difference {error:.2e}")
    assert error < 2e-3
    OUT.mkdir(parents=True, exist_ok=True)
    # x2v's layouts: latents [C, T, h, w], frames [3, T, H, W] in [0, 1] (taehv) and [-1, 1] (LightX2V's LightTAE).
    save_file({"latents": latents_ctHW,
               "frames": sequential[0].permute(1, 0, 2, 3).contiguous(),
               "frames_need_scaled": scaled_frames.contiguous()}, str(OUT / "decode.safetensors"))
    (OUT / "decoder_weights.json").write_text(json.dumps(recipe, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
