"""Writes the Wan2.2 VAE fixtures (tests/fixtures/wan22_vae/) with the official Wan2.2 code (wan/modules/vae2_2.py).

The Wan2.2 VAE (TI2V-5B's: patchify 2, 48 latent channels, 4x16x16 compression) at a small width: encoder base width
8 and decoder base width 8 (the real ones are 160 and 256), the real z_dim 48 (its mean and std have 48 entries).
Weights are seeded per tensor (reference_common.seeded_weights; the test regenerates them). Decode and encode run
through the official Wan2_2_VAE wrapper (its mean/std normalization, chunked causal passes, clamp), loading the
weights from a .pth as the released Wan2.2_VAE.pth is loaded.

Decode and encode are causal: the outputs for 1 and 2 latent frames (1 and 5 video frames) are prefixes of the
3-frame (9-frame) outputs; the script asserts this and stores only the longest case.

Dev only:  pip install torch numpy safetensors einops
           python3 tools/reference/make_vae22_fixtures.py --wan22-repo PATH_TO_Wan2.2_CHECKOUT
"""
import argparse
import functools
import json
import pathlib
import sys
import tempfile

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import reference_common as common  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "wan22_vae"
DIM, DEC_DIM, Z_DIM = 8, 8, 48
DECODE_LATENT = (3, 2, 3)    # T_lat, h, w -> 9 frames of 32x48
ENCODE_VIDEO = (9, 32, 48)   # T, H, W -> latents 3 x 2 x 3
BASE_SEED = 11000


def diffusers_name(name: str) -> str:
    """diffusers' AutoencoderKLWan (is_residual=True) name of a Wan2.2_VAE.pth name."""
    for old, new in [("conv1.", "quant_conv."), ("conv2.", "post_quant_conv.")]:
        if name.startswith(old):
            return new + name[len(old):]
    part, rest = name.split(".", 1)
    for old, new in [("conv1.", "conv_in."), ("head.0.", "norm_out."), ("head.2.", "conv_out.")]:
        if rest.startswith(old):
            return f"{part}.{new}{rest[len(old):]}"

    def block(inner):
        for old, new in [("residual.0.", "norm1."), ("residual.2.", "conv1."), ("residual.3.", "norm2."),
                         ("residual.6.", "conv2."), ("shortcut.", "conv_shortcut.")]:
            if inner.startswith(old):
                return new + inner[len(old):]
        return inner

    kind, index, inner = rest.split(".", 2)
    if kind == "middle":
        index = int(index)
        if index == 1:
            return f"{part}.mid_block.attentions.0.{inner}"
        return f"{part}.mid_block.resnets.{index // 2}.{block(inner)}"
    _, position, inner = inner.split(".", 2)  # "<stage>.downsamples.<j>.<rest>"
    position = int(position)
    if kind == "downsamples":
        if position == 2:  # after the two residual blocks
            return f"{part}.down_blocks.{index}.downsampler.{inner}"
        return f"{part}.down_blocks.{index}.resnets.{position}.{block(inner)}"
    if position == 3:  # after the three residual blocks
        return f"{part}.up_blocks.{index}.upsampler.{inner}"
    return f"{part}.up_blocks.{index}.resnets.{position}.{block(inner)}"


def check_diffusers(state, latents, decoded, video, encoded, mean, std):
    """The same weights under diffusers' names in its AutoencoderKLWan must give the official outputs."""
    from diffusers import AutoencoderKLWan
    model = AutoencoderKLWan(base_dim=DIM, decoder_base_dim=DEC_DIM, z_dim=Z_DIM, dim_mult=[1, 2, 4, 4],
                             num_res_blocks=2, temperal_downsample=[False, True, True], is_residual=True,
                             in_channels=12, out_channels=12, patch_size=2, latents_mean=mean.tolist(),
                             latents_std=std.tolist()).eval()
    renamed = {diffusers_name(name): value for name, value in state.items()}
    assert set(renamed) == set(model.state_dict()), set(renamed) ^ set(model.state_dict())
    model.load_state_dict(renamed)
    view = (1, Z_DIM, 1, 1, 1)
    with torch.no_grad():
        out = model.decode(latents[None] * std.view(view) + mean.view(view)).sample[0]
        mu = model.encode(video[None]).latent_dist.mode()[0]
    error = relative_error(out, decoded)
    encode_error = relative_error((mu - mean.view(view)[0]) / std.view(view)[0], encoded)
    print(f"diffusers AutoencoderKLWan vs the official VAE: decode {error:.2e}, encode {encode_error:.2e}")
    assert error < 1e-4 and encode_error < 1e-4
    return {name: diffusers_name(name) for name in state}


def relative_error(actual, expected) -> float:
    return float((actual - expected).abs().max() / expected.abs().max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wan22-repo", type=pathlib.Path, required=True, help="a checkout of Wan-Video/Wan2.2")
    arguments = parser.parse_args()
    torch.set_num_threads(2)
    repo = arguments.wan22_repo.resolve()
    common.add_packages(repo, [("wan", "wan"), ("wan.modules", "wan/modules")])
    vae = common.load_module("wan.modules.vae2_2", repo / "wan/modules/vae2_2.py")
    # The official wrapper builds WanVAE_ through _video_vae with the released widths; the small decoder width
    # goes in the same way.
    vae._video_vae = functools.partial(vae._video_vae, dec_dim=DEC_DIM)
    model = vae.WanVAE_(dim=DIM, dec_dim=DEC_DIM, z_dim=Z_DIM, dim_mult=[1, 2, 4, 4], num_res_blocks=2,
                        attn_scales=[], temperal_downsample=[False, True, True], dropout=0.0)
    state, recipe = common.seeded_weights([(n, p.shape) for n, p in model.state_dict().items()], BASE_SEED,
                                          common.vae_scale_of)
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "Wan2.2_VAE.pth"
        torch.save(state, path)
        official = vae.Wan2_2_VAE(z_dim=Z_DIM, c_dim=DIM, vae_pth=str(path), dtype=torch.float32, device="cpu")

    generator = torch.Generator().manual_seed(5)
    latents = torch.randn(Z_DIM, *DECODE_LATENT, generator=generator)
    video = torch.rand(3, *ENCODE_VIDEO, generator=generator) * 2 - 1
    with torch.no_grad():
        decoded = official.decode([latents])[0]
        encoded = official.encode([video])[0]
        for frames in (1, 2):
            prefix = official.decode([latents[:, :frames]])[0]
            assert relative_error(prefix, decoded[:, :prefix.shape[1]]) < 1e-5, frames
            prefix = official.encode([video[:, :1 + 4 * (frames - 1)]])[0]
            assert relative_error(prefix, encoded[:, :frames]) < 1e-5, frames
    diffusers_names = check_diffusers(state, latents, decoded, video, encoded, official.scale[0],
                                      1.0 / official.scale[1])
    clamped = ((decoded <= -1) | (decoded >= 1)).float().mean().item()
    print(f"decoded {tuple(decoded.shape)} (std {decoded.std().item():.3f}, clamped {clamped:.3f}); "
          f"encoded {tuple(encoded.shape)} (std {encoded.std().item():.3f})")
    OUT.mkdir(parents=True, exist_ok=True)
    save_file({"latents": latents, "video": decoded.contiguous(), "encode_video": video,
               "encode_latents": encoded.contiguous()}, str(OUT / "vae22.safetensors"))
    (OUT / "weights.json").write_text(json.dumps(recipe, indent=0) + "\n")
    (OUT / "diffusers_names.json").write_text(json.dumps(diffusers_names, indent=0) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
