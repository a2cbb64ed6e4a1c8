"""Writes the Wan2.1 I2V conditioning fixtures (tests/fixtures/i2v/) with the official Wan code.

- The output size for several image sizes and target areas, by the formula of wan/image2video.py (which LightX2V's
  WanRunner.run_vae_encoder repeats with resize_mode unset): lat = round(sqrt(max_area * h / w) // 8 // 2 * 2).
- `y` for a non-square image: the official WanVAE (the small VAE of tests/fixtures/wan_vae, loaded through
  wan.modules.vae) encodes the image resized bicubically to the output size followed by black frames, and the
  first-frame mask goes in front, as image2video.py's generate() builds them (those lines are repeated here: they
  sit inside generate(), after the CLIP and T5 calls this script does not need).

Dev only:  pip install torch numpy safetensors
           python3 tools/reference/make_i2v_fixtures.py --wan-repo PATH_TO_Wan2.1_CHECKOUT
"""
import argparse
import functools
import json
import pathlib
import sys

import numpy as np
import torch
from safetensors.torch import save_file

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "i2v"
VAE_STRIDE, PATCH = (4, 8, 8), (1, 2, 2)
IMAGE = (3, 37, 53)          # a non-square image, [-1, 1]
TARGET = (48, 64)            # target_height, target_width: the area
FRAMES = 9                   # -> 3 latent frames
SHAPE_CASES = [(100, 150, 480, 832), (1080, 1920, 480, 832), (1920, 1080, 480, 832), (512, 512, 720, 1280),
               (37, 53, 32, 48), (300, 1200, 480, 832), (768, 1024, 704, 1280)]


def output_size(image_h, image_w, target_h, target_w):
    max_area = target_h * target_w
    aspect_ratio = image_h / image_w
    lat_h = round(np.sqrt(max_area * aspect_ratio) // VAE_STRIDE[1] // PATCH[1] * PATCH[1])
    lat_w = round(np.sqrt(max_area / aspect_ratio) // VAE_STRIDE[2] // PATCH[2] * PATCH[2])
    return lat_h * VAE_STRIDE[1], lat_w * VAE_STRIDE[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wan-repo", type=pathlib.Path, required=True, help="a checkout of Wan-Video/Wan2.1")
    arguments = parser.parse_args()
    torch.set_num_threads(2)
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    import make_vae_fixtures as vae_fixtures
    vae_module = vae_fixtures.load_official_vae(arguments.wan_repo.resolve())
    vae_module._video_vae = functools.partial(vae_module._video_vae, dim=vae_fixtures.DIM)
    vae = vae_module.WanVAE(z_dim=vae_fixtures.Z_DIM, vae_pth=str(ROOT / "tests/fixtures/wan_vae/Wan2.1_VAE.pth"),
                            dtype=torch.float32, device="cpu")

    shapes = [{"image": [h, w], "target": [th, tw], "output": list(output_size(h, w, th, tw))}
              for h, w, th, tw in SHAPE_CASES]

    generator = torch.Generator().manual_seed(31)
    img = torch.rand(*IMAGE, generator=generator) * 2 - 1
    F = FRAMES
    h, w = output_size(IMAGE[1], IMAGE[2], *TARGET)
    lat_h, lat_w = h // VAE_STRIDE[1], w // VAE_STRIDE[2]
    # image2video.py, generate():
    msk = torch.ones(1, F, lat_h, lat_w)
    msk[:, 1:] = 0
    msk = torch.concat([torch.repeat_interleave(msk[:, 0:1], repeats=4, dim=1), msk[:, 1:]], dim=1)
    msk = msk.view(1, msk.shape[1] // 4, 4, lat_h, lat_w)
    msk = msk.transpose(1, 2)[0]
    with torch.no_grad():
        y = vae.encode([
            torch.concat([
                torch.nn.functional.interpolate(img[None].cpu(), size=(h, w), mode="bicubic").transpose(0, 1),
                torch.zeros(3, F - 1, h, w)
            ], dim=1)
        ])[0]
    y = torch.concat([msk, y])
    print(f"output {h}x{w}, y {tuple(y.shape)}")
    OUT.mkdir(parents=True, exist_ok=True)
    save_file({"image": img.contiguous(), "y": y.contiguous()}, str(OUT / "y.safetensors"))
    (OUT / "cases.json").write_text(json.dumps({"shapes": shapes, "y": {"target": list(TARGET), "frames": F}},
                                               indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
