"""Writes the quantized-DiT fixtures (tests/fixtures/wan_quant/) with PyTorch and the official Wan code.

Starting from the small T2V DiT fixture of make_dit_fixtures.py (tests/fixtures/wan_dit/t2v/model_original, run on
its forward_inputs):

* t2v_int8_linears.safetensors, t2v_fp8_linears.safetensors: the block attention and FFN linears (self_attn and
  cross_attn q/k/v/o, ffn.0, ffn.2: the ones LightX2V quantizes) quantized symmetrically per output channel as
  LightX2V's converter and weight_auto_quant do, in float32 from the stored weights: amax = max |w| per row clamped
  to at least 1e-5;
    int8: scale = amax / 127, q = round(w / scale) (ties to even) clamped to [-128, 127];
    fp8:  scale = amax / 448, q = float8_e4m3fn(clamp(w / scale, -448, 448)) (round to nearest even).
  LightX2V's layout: `<name>.weight` int8 / float8_e4m3fn [out, in] and `<name>.weight_scale` float32 [out, 1].
  Only the quantized linears are stored; the tests complete each file with model_original's other tensors into a
  full checkpoint, which keeps the fixture small.
* forward_outputs.safetensors: the official WanModel's forward output with those weights fake-quantized (every
  quantized weight replaced by q * scale in float32): `int8_out` also quantizes each quantized linear's input per
  token (scale = amax / 127, q = round(x / scale) clamped to [-128, 127], then q * scale: LightX2V's W8A8
  activation quantization), `fp8_out` is weight-only (CPUs have no fp8 arithmetic; x2v's cpu fp8 kernel dequantizes
  the weights).

One LightX2V detail is deliberately not copied: its converter (and weight_auto_quant) rounds fp8 through
qtorch.float_quantize(x, 4, 3, "nearest"), which rounds ties away from zero, before the cast to float8_e4m3fn; here
(and in x2v) the cast itself rounds, ties to even. Measured with qtorch 0.3.0 on this fixture's weights: 1326 of
393216 fp8 values (0.34%) differ, each by one e4m3 step. Checkpoints from either path load the same way: the stored
q and scale are used as they are.

Dev only:  pip install torch safetensors numpy
           python3 tools/reference/make_quant_fixtures.py --wan-repo PATH_TO_Wan2.1_CHECKOUT
"""
import argparse
import pathlib
import sys

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import make_dit_fixtures as dit  # noqa: E402  (the official-model loader and forward of the DiT fixtures)

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCE = ROOT / "tests" / "fixtures" / "wan_dit" / "t2v"
OUT = ROOT / "tests" / "fixtures" / "wan_quant"
QUANTIZED = ["self_attn.q", "self_attn.k", "self_attn.v", "self_attn.o",
             "cross_attn.q", "cross_attn.k", "cross_attn.v", "cross_attn.o", "ffn.0", "ffn.2"]


def quantize(weight: torch.Tensor, fmt: str):
    w = weight.float()
    amax = w.abs().amax(dim=1, keepdim=True).clamp(min=1e-5)
    if fmt == "int8":
        scale = amax / 127
        q = torch.clamp(torch.round(w / scale), -128, 127).to(torch.int8)
    else:
        scale = amax / 448.0
        q = torch.clamp(w / scale, -448.0, 448.0).to(torch.float8_e4m3fn)
    return q, scale


def fake_quantize_tokens(x: torch.Tensor) -> torch.Tensor:
    """Per-token symmetric int8 quantize-dequantize of a linear's input (rows of zeros stay zero)."""
    amax = x.abs().amax(dim=-1, keepdim=True)
    scale = amax / 127
    q = torch.clamp(torch.round(x / scale), -128, 127)
    return torch.where(amax > 0, q * scale, torch.zeros_like(x))


def load_model(wan_model, state: dict):
    config = dit.official_config("t2v", 16)
    arguments = {k: v for k, v in config.items() if not k.startswith("_")}
    arguments["patch_size"] = tuple(arguments["patch_size"])
    arguments["window_size"] = tuple(arguments["window_size"])
    model = wan_model.WanModel(**arguments)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert set(missing) <= {"freqs"} and not unexpected, (missing, unexpected)
    return model.eval()


def linear_names(num_layers: int):
    return [f"blocks.{i}.{name}" for i in range(num_layers) for name in QUANTIZED]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wan-repo", type=pathlib.Path, required=True,
                        help="a checkout of github.com/Wan-Video/Wan2.1 (the folder holding wan/)")
    arguments = parser.parse_args()
    torch.set_num_threads(2)
    wan_model, _ = dit.load_official(arguments.wan_repo.resolve())
    state = {name: value.float() for name, value in
             load_file(str(SOURCE / "model_original" / "diffusion_pytorch_model.safetensors")).items()}
    inputs = {name: value for name, value in load_file(str(SOURCE / "forward_inputs.safetensors")).items()}
    expected = load_file(str(SOURCE / "forward_outputs.safetensors"))
    names = linear_names(dit.SMALL["num_layers"])
    OUT.mkdir(parents=True, exist_ok=True)

    with torch.no_grad():
        plain = dit.capture_forward(load_model(wan_model, state), inputs)["out"]
        error = (plain - expected["out"]).abs().max() / expected["out"].abs().max()
        assert error < 1e-6, f"the official model does not reproduce the DiT fixture ({error:.2e})"

        outputs = {}
        for fmt in ["int8", "fp8"]:
            tensors, fake = {}, dict(state)
            for name in names:
                q, scale = quantize(state[name + ".weight"], fmt)
                tensors[name + ".weight"] = q.contiguous()
                tensors[name + ".weight_scale"] = scale.contiguous()
                fake[name + ".weight"] = q.float() * scale
            save_file(tensors, str(OUT / f"t2v_{fmt}_linears.safetensors"))
            model = load_model(wan_model, fake)
            if fmt == "int8":
                for name in names:
                    model.get_submodule(name).register_forward_pre_hook(
                        lambda _module, args: (fake_quantize_tokens(args[0]),))
            captured = dit.capture_forward(model, inputs)
            out = outputs[f"{fmt}_out"] = captured["out"]
            cosine = torch.nn.functional.cosine_similarity(out.flatten(), plain.flatten(), dim=0)
            print(f"{fmt}: fake-quantized vs unquantized output cosine {cosine:.6f}")
            assert 0.99 < cosine < 1.0, "quantization had no effect, or too much"
        dit.save_tensors(OUT / "forward_outputs.safetensors", outputs)
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
