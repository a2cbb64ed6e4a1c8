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
  Only the quantized linears are stored, once per format;
* t2v_unquantized_rest.safetensors: every other tensor of model_original (norms, biases, modulation, embeddings,
  head), float32 as stored. A folder holding it and one of the linears files is a complete LightX2V quantized DiT
  (LightX2V, like x2v, reads every .safetensors of a dit_quantized_ckpt folder), which keeps the fixture small.
* forward_outputs.safetensors: the official WanModel's forward output with those weights fake-quantized (every
  quantized weight replaced by q * scale in float32): `int8_out` also quantizes each quantized linear's input per
  token (scale = amax / 127, q = round(x / scale) clamped to [-128, 127], then q * scale: LightX2V's W8A8
  activation quantization), `fp8_out` is weight-only (CPUs have no fp8 arithmetic; x2v's cpu fp8 kernel dequantizes
  the weights).

* t5_int8_linears.safetensors, t5_fp8_linears.safetensors, t5_outputs.safetensors: the same for the umT5 fixture
  of make_t5_fixtures.py (tests/fixtures/t5/wan): its attention q/k/v/o and FFN gate/fc1/fc2 linears (the ones
  LightX2V's T5 quantizes), quantized from the stored bf16 weights, and the official T5Encoder's float32 output on
  the fixture's four token cases with those weights fake-quantized (`int8_out_<case>` with per-token activation
  quantization, `fp8_out_<case>` weight-only).

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
import make_t5_fixtures as t5_fixtures  # noqa: E402  (the official T5 loader)

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCE = ROOT / "tests" / "fixtures" / "wan_dit" / "t2v"
OUT = ROOT / "tests" / "fixtures" / "wan_quant"
T5_SOURCE = ROOT / "tests" / "fixtures" / "t5"
T5_QUANTIZED = ["attn.q", "attn.k", "attn.v", "attn.o", "ffn.gate.0", "ffn.fc1", "ffn.fc2"]
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


def quantized_linears(state: dict, names: list, fmt: str):
    """The linears `names` quantized in LightX2V's layout, and `state` with them fake-quantized (q * scale)."""
    tensors, fake = {}, dict(state)
    for name in names:
        q, scale = quantize(state[name + ".weight"], fmt)
        tensors[name + ".weight"] = q.contiguous()
        tensors[name + ".weight_scale"] = scale.contiguous()
        fake[name + ".weight"] = q.float() * scale
    return tensors, fake


def quantize_inputs_per_token(model, names: list) -> None:
    """W8A8: each of the linears `names` sees its input fake-quantized per token."""
    for name in names:
        model.get_submodule(name).register_forward_pre_hook(lambda _module, args: (fake_quantize_tokens(args[0]),))


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


def t5_fixture(wan_repo: pathlib.Path) -> None:
    import json
    _, t5_module = t5_fixtures.load_official(wan_repo)
    state = {name: value.float() for name, value in
             torch.load(T5_SOURCE / "wan" / "models_t5_umt5-xxl-enc-bf16.pth", weights_only=True).items()}
    document = json.loads((T5_SOURCE / "encoder_cases.json").read_text())
    config = {k: v for k, v in document["config"].items() if k not in ("vocab_size", "max_distance")}
    cases = document["cases"]
    expected = load_file(str(T5_SOURCE / "encoder_outputs.safetensors"))
    ids = torch.zeros(len(cases), t5_fixtures.TEXT_LEN, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, case in enumerate(cases):
        ids[row, :case["length"]] = torch.tensor(case["ids"])
        mask[row, :case["length"]] = 1

    def model_with(weights: dict):
        model = t5_module.T5Encoder(vocab=document["config"]["vocab_size"], shared_pos=False, dropout=0.0,
                                    **config).eval()
        model.load_state_dict(weights)
        return model

    names = [f"blocks.{i}.{name}" for i in range(config["num_layers"]) for name in T5_QUANTIZED]
    outputs = {}
    with torch.no_grad():
        plain = model_with(state)(ids, mask)
        for row, case in enumerate(cases):
            reference = expected[f"out_{row}"]
            error = (plain[row, :case["length"]] - reference).abs().max() / reference.abs().max()
            assert error < 1e-5, f"the official T5 does not reproduce the T5 fixture ({error:.2e})"
        for fmt in ["int8", "fp8"]:
            tensors, fake = quantized_linears(state, names, fmt)
            save_file(tensors, str(OUT / f"t5_{fmt}_linears.safetensors"))
            model = model_with(fake)
            if fmt == "int8":
                quantize_inputs_per_token(model, names)
            out = model(ids, mask)
            for row, case in enumerate(cases):
                length = case["length"]
                outputs[f"{fmt}_out_{row}"] = out[row, :length].contiguous()
                cosine = torch.nn.functional.cosine_similarity(
                    out[row, :length].flatten(), plain[row, :length].flatten(), dim=0)
                print(f"t5 {fmt} case {row} ({length} tokens): fake-quantized vs unquantized cosine {cosine:.6f}")
                assert 0.99 < cosine < 1.0, "quantization had no effect, or too much"
    save_file(outputs, str(OUT / "t5_outputs.safetensors"))


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
            tensors, fake = quantized_linears(state, names, fmt)
            save_file(tensors, str(OUT / f"t2v_{fmt}_linears.safetensors"))
            model = load_model(wan_model, fake)
            if fmt == "int8":
                quantize_inputs_per_token(model, names)
            captured = dit.capture_forward(model, inputs)
            out = outputs[f"{fmt}_out"] = captured["out"]
            cosine = torch.nn.functional.cosine_similarity(out.flatten(), plain.flatten(), dim=0)
            print(f"{fmt}: fake-quantized vs unquantized output cosine {cosine:.6f}")
            assert 0.99 < cosine < 1.0, "quantization had no effect, or too much"
        dit.save_tensors(OUT / "forward_outputs.safetensors", outputs)
    quantized = {name + ".weight" for name in names}
    save_file({name: value.contiguous() for name, value in state.items() if name not in quantized},
              str(OUT / "t2v_unquantized_rest.safetensors"))
    t5_fixture(arguments.wan_repo.resolve())
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
