"""Writes the feature-caching fixtures (tests/fixtures/wan_cache/): TeaCache and MagCache as LightX2V runs them
(lightx2v/models/networks/wan/infer/feature_caching/transformer_infer.py: WanTransformerInferTeaCaching and
WanTransformerInferMagCaching), around the official Wan DiT of the small T2V fixture model
(tests/fixtures/wan_dit/t2v/model_original), sampled with Euler and CFG in float32.

The blocks of the official WanModel are swapped for one module that makes LightX2V's decision for the step and
branch (cond / uncond state kept apart, as LightX2V's even / odd), runs the blocks and keeps their residual, or
adds the kept residual instead. The decisions (which evaluations ran the blocks) and the final latents are
written for each run.

Dev only:  pip install torch numpy safetensors
           python3 tools/reference/make_cache_fixtures.py --wan-repo PATH_TO_Wan2.1_CHECKOUT
"""
import argparse
import json
import pathlib
import sys

import numpy as np
import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import make_dit_fixtures as dit  # noqa: E402  (the official model loader and the fixture model's config)

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODEL = ROOT / "tests" / "fixtures" / "wan_dit" / "t2v"
OUT = ROOT / "tests" / "fixtures" / "wan_cache"
STEPS, SHIFT, GUIDE = 10, 5.0, 5.0


class TeaCache:
    """LightX2V's WanTransformerInferTeaCaching.calculate_should_calc, one branch."""

    def __init__(self, config):
        self.thresh = config["teacache_thresh"]
        self.use_ret_steps = config["use_ret_steps"]
        self.coefficients = config["coefficients"][0 if self.use_ret_steps else 1]
        self.ret_steps = 5 if self.use_ret_steps else 1
        self.cutoff_steps = config["infer_steps"] if self.use_ret_steps else config["infer_steps"] - 1
        self.accumulated = 0
        self.previous = None

    def should_calc(self, step, embed, embed0):
        modulated_inp = embed0 if self.use_ret_steps else embed
        if step < self.ret_steps or step >= self.cutoff_steps:
            should_calc = True
            self.accumulated = 0
        else:
            rescale = np.poly1d(self.coefficients)
            self.accumulated += rescale(((modulated_inp - self.previous).abs().mean() /
                                         self.previous.abs().mean()).cpu().item())
            should_calc = not self.accumulated < self.thresh
            if should_calc:
                self.accumulated = 0
        self.previous = modulated_inp.clone()
        return should_calc


class MagCache:
    """LightX2V's WanTransformerInferMagCaching.infer_main_blocks decision, one branch."""

    def __init__(self, config, conditional):
        self.config = config
        self.ratios = np.array(config["magcache_ratios"])[0 if conditional else 1]
        self.ratio, self.steps, self.error = 1.0, 0, 0.0

    def should_calc(self, step, embed, embed0):
        if step < int(self.config["infer_steps"] * self.config["magcache_retention_ratio"]):
            return True
        self.ratio = self.ratio * self.ratios[step]
        self.steps += 1
        self.error += np.abs(1 - self.ratio)
        if self.error < self.config["magcache_thresh"] and self.steps <= self.config["magcache_K"]:
            return False
        self.error, self.steps, self.ratio = 0, 0, 1.0
        return True


class CachedBlocks(torch.nn.Module):
    """Stands in for WanModel.blocks: the branch's cache decides, then the blocks run or the residual is added."""

    def __init__(self, blocks, caches):
        super().__init__()
        self.blocks = blocks
        self.caches = caches          # {True: cond cache, False: uncond cache}
        self.residual = {True: None, False: None}
        self.records = {True: [], False: []}
        self.step, self.conditional, self.embed = 0, True, None

    def forward(self, x, **kwargs):
        branch = self.conditional
        calc = self.caches[branch].should_calc(self.step, self.embed, kwargs["e"])
        calc = calc or self.residual[branch] is None
        self.records[branch].append(bool(calc))
        if calc:
            before = x.clone()
            for block in self.blocks:
                x = block(x, **kwargs)
            self.residual[branch] = x - before
            return x
        return x + self.residual[branch]


def load_model(wan_model):
    model, _ = dit.build_model(wan_model, "t2v", 0)
    state = load_file(str(MODEL / "model_original" / "diffusion_pytorch_model.safetensors"))
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all(name == "freqs" for name in missing), (missing, unexpected)
    return model


def sample(model, solvers, inputs, config):
    """Euler with CFG over the official UniPC scheduler's sigmas (as make_dit_fixtures.sample_euler)."""
    original = model.blocks
    if config["feature_caching"] == "Tea":
        caches = {True: TeaCache(config), False: TeaCache(config)}
    else:
        caches = {True: MagCache(config, True), False: MagCache(config, False)}
    cached = CachedBlocks(original, caches)
    model.blocks = torch.nn.ModuleList([cached])
    handle = model.time_embedding.register_forward_hook(lambda _m, _i, out: setattr(cached, "embed", out))
    scheduler, _, sigmas = dit.unipc_tables(solvers, STEPS, SHIFT)
    latents = inputs["noise"].clone()
    for i, t in enumerate(scheduler.timesteps):
        cached.step = i
        cached.conditional = True
        cond = dit.forward(model, latents, torch.stack([t]), inputs["context"])
        cached.conditional = False
        uncond = dit.forward(model, latents, torch.stack([t]), inputs["context_null"])
        v = uncond + GUIDE * (cond - uncond)
        latents = latents + (sigmas[i + 1] - sigmas[i]) * v
    handle.remove()
    model.blocks = original
    return latents, cached.records


def relative_changes(model, solvers, sinusoid, use_ret_steps):
    """The relative L1 change of the embedding TeaCache watches, per step (to pick thresholds that skip some)."""
    scheduler, _, _ = dit.unipc_tables(solvers, STEPS, SHIFT)
    values = []
    with torch.no_grad():
        for t in scheduler.timesteps:
            e = model.time_embedding(sinusoid(model.freq_dim, torch.stack([t])).float())
            values.append(model.time_projection(e) if use_ret_steps else e)
    return [((b - a).abs().mean() / a.abs().mean()).item() for a, b in zip(values, values[1:])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wan-repo", type=pathlib.Path, required=True,
                        help="a checkout of github.com/Wan-Video/Wan2.1 (the folder holding wan/)")
    arguments = parser.parse_args()
    torch.set_num_threads(2)
    wan_model, solvers = dit.load_official(arguments.wan_repo.resolve())
    model = load_model(wan_model)
    inputs = load_file(str(MODEL / "sample_inputs.safetensors"))
    base = {"infer_steps": STEPS, "sample_shift": SHIFT, "sample_guide_scale": GUIDE, "enable_cfg": True,
            "sample_solver": "euler"}
    runs = {}
    for use_ret_steps in (True, False):
        changes = relative_changes(model, solvers, wan_model.sinusoidal_embedding_1d, use_ret_steps)
        # rescale(x) = x; a threshold of twice the median change skips about every other step.
        thresh = round(2.0 * float(np.median(changes)), 6)
        runs["tea_ret" if use_ret_steps else "tea"] = dict(
            base, feature_caching="Tea", teacache_thresh=thresh, use_ret_steps=use_ret_steps,
            coefficients=[[1.0, 0.0], [1.0, 0.0]])
    generator = np.random.default_rng(7)
    ratios = [[round(float(r), 5) for r in 1.0 - 0.03 * generator.random(STEPS)] for _ in range(2)]
    runs["mag"] = dict(base, feature_caching="Mag", magcache_K=2, magcache_thresh=0.05,
                       magcache_retention_ratio=0.2, magcache_ratios=ratios)
    latents = {}
    with torch.no_grad():
        for name, config in runs.items():
            latents[name], records = sample(model, solvers, inputs, config)
            config["cond_computed"] = records[True]
            config["uncond_computed"] = records[False]
            print(f"{name}: cond {records[True]}, uncond {records[False]}")
    OUT.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in latents.items()}, str(OUT / "cache_outputs.safetensors"))
    (OUT / "cache_runs.json").write_text(json.dumps(runs, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
