"""Writes the Wan2.1 VAE golden fixtures (tests/fixtures/wan_vae/) with the official Wan code and diffusers.

A small seeded-random WanVAE_ (dim 3, z_dim 16: the real architecture at 1/32 of the width) is saved as
Wan2.1_VAE.pth with torch.save, the format of the released file, and loaded back through the official
loader (wan.modules.vae._video_vae). Decode and encode run through the official WanVAE wrapper (mean/std
normalization, chunked causal passes, clamp). The same weights renamed to diffusers' names are saved as
diffusers/vae/diffusion_pytorch_model.safetensors; AutoencoderKLWan must reproduce the official outputs
from them, which checks the renaming independently of x2v. A tiled decode reference comes from
AutoencoderKLWan.tiled_decode with small tiles (2 x 3 tiles).

Decode and encode are causal, so the outputs for 1, 2, 3 latent frames (1, 5, 9 video frames) are prefixes
of the 4-frame (13-frame) outputs; the script asserts this and stores only the longest case.

Dev only:  pip install torch diffusers safetensors numpy
           python3 tools/reference/make_vae_fixtures.py --wan-repo PATH_TO_Wan2.1_CHECKOUT
"""
import argparse
import functools
import importlib.util
import json
import pathlib
import sys
import types

import torch
from safetensors.torch import save_file

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "wan_vae"

DIM, Z_DIM = 3, 16
DECODE_LATENT = (4, 3, 4)         # T_lat, h, w -> 13 frames of 24x32
ENCODE_VIDEO = (13, 16, 24)       # T, H, W -> latents 4 x 2 x 3
TILED_LATENT = (2, 5, 7)          # -> 5 frames of 40x56, 2 x 3 tiles
TILE_SIZE, TILE_STRIDE = 32, 24   # pixels (diffusers' defaults are 256 and 192)


def einops_shim() -> types.ModuleType:
    """vae.py needs einops.rearrange for two patterns only; this avoids the dependency."""
    module = types.ModuleType("einops")

    def rearrange(x, pattern, **sizes):
        if pattern == "b c t h w -> (b t) c h w":
            b, c, t, h, w = x.shape
            return x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        if pattern.replace(" ", "") == "(bt)chw->bcthw":
            bt, c, h, w = x.shape
            t = sizes["t"]
            return x.reshape(bt // t, t, c, h, w).permute(0, 2, 1, 3, 4)
        raise NotImplementedError(pattern)

    module.rearrange = rearrange
    return module


def load_official_vae(wan_repo: pathlib.Path):
    """Imports wan.modules.vae without running wan/__init__.py."""
    sys.modules.setdefault("einops", einops_shim())
    for name, sub in [("wan", ""), ("wan.modules", "modules")]:
        package = types.ModuleType(name)
        package.__path__ = [str(wan_repo / "wan" / sub)]
        sys.modules[name] = package
    spec = importlib.util.spec_from_file_location("wan.modules.vae", wan_repo / "wan/modules/vae.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["wan.modules.vae"] = module
    spec.loader.exec_module(module)
    return module


def randomize(module: torch.nn.Module, seed: int) -> None:
    """Seeded weights that keep activations O(1), rounded to bf16 so the bf16 diffusers copy is exact.

    At a few channels per position, F.normalize amplifies rounding wherever all channels are near zero;
    biases of 0.5 keep activations away from zero, so f32 rounding stays below 1e-5 at the output.
    """
    generator = torch.Generator().manual_seed(seed)
    for name, parameter in module.named_parameters():
        shape = parameter.shape
        if name.endswith("gamma"):
            values = 1.0 + 0.1 * torch.randn(shape, generator=generator)
        elif parameter.ndim == 1:
            values = 0.5 * torch.randn(shape, generator=generator)
        else:
            fan_in = parameter[0].numel()
            values = torch.randn(shape, generator=generator) / fan_in ** 0.5
            if name == "decoder.head.2.weight":
                values *= 1.6  # some outputs past [-1, 1], so the clamp is exercised
        parameter.data = values.to(torch.bfloat16).to(torch.float32)


def to_diffusers_name(name: str) -> str:
    block_parts = [("residual.0.", "norm1."), ("residual.2.", "conv1."), ("residual.3.", "norm2."),
                   ("residual.6.", "conv2."), ("shortcut.", "conv_shortcut.")]

    def block(rest):
        for old, new in block_parts:
            if rest.startswith(old):
                return new + rest[len(old):]
        return rest

    if name.startswith("conv1."):
        return "quant_conv." + name[len("conv1."):]
    if name.startswith("conv2."):
        return "post_quant_conv." + name[len("conv2."):]
    part, rest = name.split(".", 1)
    for old, new in [("conv1.", "conv_in."), ("head.0.", "norm_out."), ("head.2.", "conv_out.")]:
        if rest.startswith(old):
            return f"{part}.{new}{rest[len(old):]}"
    kind, index, inner = rest.split(".", 2)
    index = int(index)
    if kind == "middle":
        if index == 1:
            return f"{part}.mid_block.attentions.0.{inner}"
        return f"{part}.mid_block.resnets.{index // 2}.{block(inner)}"
    if kind == "downsamples":
        return f"{part}.down_blocks.{index}.{block(inner)}"
    if kind == "upsamples":
        group, position = divmod(index, 4)  # 3 resnets then an upsampler per up block
        if position == 3:
            return f"{part}.up_blocks.{group}.upsamplers.0.{inner}"
        return f"{part}.up_blocks.{group}.resnets.{position}.{block(inner)}"
    raise KeyError(name)


def save_tensors(path: pathlib.Path, tensors: dict) -> None:
    save_file({k: v.detach().to(torch.float32).contiguous() for k, v in tensors.items()}, str(path))


def relative_error(actual, expected) -> float:
    return float((actual - expected).abs().max() / expected.abs().max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wan-repo", type=pathlib.Path, required=True,
                        help="a checkout of github.com/Wan-Video/Wan2.1 (the folder holding wan/)")
    arguments = parser.parse_args()
    torch.set_num_threads(2)
    vae_module = load_official_vae(arguments.wan_repo.resolve())
    OUT.mkdir(parents=True, exist_ok=True)

    # The model, saved as the released file is: a plain state dict through torch.save.
    cfg = dict(dim=DIM, z_dim=Z_DIM, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
               temperal_downsample=[False, True, True], dropout=0.0)
    model = vae_module.WanVAE_(**cfg)
    randomize(model, 300)
    state = {name: value.detach().clone() for name, value in model.state_dict().items()}
    pth = OUT / "Wan2.1_VAE.pth"
    torch.save(state, pth)

    # The official wrapper over that file (its loader hard-codes dim 96; the small width is passed in).
    vae_module._video_vae = functools.partial(vae_module._video_vae, dim=DIM)
    official = vae_module.WanVAE(z_dim=Z_DIM, vae_pth=str(pth), dtype=torch.float32, device="cpu")
    mean, std = official.mean, official.std

    generator = torch.Generator().manual_seed(301)
    latents = torch.randn(Z_DIM, *DECODE_LATENT, generator=generator)
    video = (0.6 * torch.randn(3, *ENCODE_VIDEO, generator=generator)).clamp(-1, 1)
    tiled_latents = torch.randn(Z_DIM, *TILED_LATENT, generator=generator)

    with torch.no_grad():
        decoded = official.decode([latents])[0]
        encoded = official.encode([video])[0]
        for frames in range(1, DECODE_LATENT[0]):
            prefix = official.decode([latents[:, :frames]])[0]
            assert torch.equal(prefix, decoded[:, :1 + 4 * (frames - 1)]), "decode is not causal"
        for frames in range(1, ENCODE_VIDEO[0], 4):
            prefix = official.encode([video[:, :frames]])[0]
            assert torch.allclose(prefix, encoded[:, :1 + (frames - 1) // 4], atol=1e-6), "encode is not causal"
        inside = float(((decoded > -1) & (decoded < 1)).float().mean())
        print(f"decode: {tuple(decoded.shape)}, {inside:.0%} of values inside (-1, 1) (the rest clamped)")
        print(f"encode: {tuple(encoded.shape)}, |mu| max {encoded.abs().max():.3f}")
        assert 0.5 < inside < 0.98, "rescale decoder.head.2.weight: the clamp should act on a few values"

        # diffusers from the renamed weights must agree with the official model.
        from diffusers import AutoencoderKLWan
        config = {"base_dim": DIM, "z_dim": Z_DIM, "dim_mult": [1, 2, 4, 4], "num_res_blocks": 2,
                  "attn_scales": [], "temperal_downsample": [False, True, True], "dropout": 0.0}
        diffusers_vae = AutoencoderKLWan(**config).eval()
        renamed = {to_diffusers_name(name): value for name, value in state.items()}
        missing, unexpected = diffusers_vae.load_state_dict(renamed, strict=True)
        assert not missing and not unexpected, (missing, unexpected)
        view = (1, Z_DIM, 1, 1, 1)
        raw = latents[None] * std.view(view) + mean.view(view)
        diffusers_decoded = diffusers_vae.decode(raw).sample[0]
        mu = diffusers_vae.encode(video[None]).latent_dist.mode()
        diffusers_encoded = ((mu - mean.view(view)) / std.view(view))[0]
        print(f"diffusers vs official: decode {relative_error(diffusers_decoded, decoded):.1e}, "
              f"encode {relative_error(diffusers_encoded, encoded):.1e}")
        assert relative_error(diffusers_decoded, decoded) < 1e-5 and relative_error(diffusers_encoded, encoded) < 1e-5

        diffusers_vae.enable_tiling(tile_sample_min_height=TILE_SIZE, tile_sample_min_width=TILE_SIZE,
                                    tile_sample_stride_height=TILE_STRIDE, tile_sample_stride_width=TILE_STRIDE)
        raw_tiled = tiled_latents[None] * std.view(view) + mean.view(view)
        tiled = diffusers_vae.decode(raw_tiled).sample[0]
        diffusers_vae.disable_tiling()
        untiled = diffusers_vae.decode(raw_tiled).sample[0]
        print(f"tiled decode: {tuple(tiled.shape)}, differs from untiled by {relative_error(tiled, untiled):.2e}")

    directory = OUT / "diffusers" / "vae"
    directory.mkdir(parents=True, exist_ok=True)
    save_file({name: value.to(torch.bfloat16).contiguous() for name, value in renamed.items()},
              str(directory / "diffusion_pytorch_model.safetensors"))
    (directory / "config.json").write_text(json.dumps({"_class_name": "AutoencoderKLWan", **config}, indent=2) + "\n")
    save_tensors(OUT / "decode.safetensors", {"latents": latents, "video": decoded})
    save_tensors(OUT / "encode.safetensors", {"video": video, "latents": encoded})
    save_tensors(OUT / "tiled_decode.safetensors", {"latents": tiled_latents, "video": tiled})
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
