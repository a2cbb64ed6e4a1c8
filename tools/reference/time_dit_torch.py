"""Times one Wan2.1 DiT step in PyTorch at the shape of bench/bench_dit.cpp (1.3B width, 2304 tokens),
with the official WanModel (random weights), so the two figures can be read side by side on one machine.

Dev only:  python3 tools/reference/time_dit_torch.py --wan-repo PATH [--dtype bf16|f32] [--layers 30]
           [--frames 9] [--threads N] [--device cpu|cuda]
"""
import argparse
import pathlib
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_dit_fixtures import load_official  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wan-repo", type=pathlib.Path, required=True)
    parser.add_argument("--dtype", choices=["bf16", "f32"], default="bf16")
    parser.add_argument("--layers", type=int, default=30)
    parser.add_argument("--frames", type=int, default=9)
    parser.add_argument("--height", type=int, default=32)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=1)
    arguments = parser.parse_args()
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    wan_model, _ = load_official(arguments.wan_repo.resolve())
    dtype = torch.bfloat16 if arguments.dtype == "bf16" else torch.float32
    with torch.device("meta"):
        model = wan_model.WanModel(model_type="t2v", dim=1536, ffn_dim=8960, num_heads=12,
                                   num_layers=arguments.layers, in_dim=16, out_dim=16, text_len=512)
    model = model.to_empty(device=arguments.device)
    for parameter in model.parameters():
        torch.nn.init.normal_(parameter, std=0.02)
    model.freqs = model.freqs.to(arguments.device) if model.freqs.device.type != "meta" else torch.cat([
        wan_model.rope_params(1024, 128 - 4 * 21), wan_model.rope_params(1024, 42),
        wan_model.rope_params(1024, 42)], dim=1).to(arguments.device)
    model = model.to(dtype).eval()
    for module in model.modules():  # the reference's LayerNorms take f32 input
        if isinstance(module, torch.nn.LayerNorm):
            module.float()
    # The reference keeps the time layers in f32 outside autocast (its cuda.amp guards do nothing on CPU).
    for module in (model.time_embedding, model.time_projection):
        module.float()
        inner = module.forward

        def forward_f32(value, _inner=inner):
            with torch.autocast(arguments.device, enabled=False):
                return _inner(value.float())
        module.forward = forward_f32
    x = torch.randn(16, arguments.frames, arguments.height, arguments.width, device=arguments.device)
    context = torch.randn(64, 4096, device=arguments.device)
    seq_len = arguments.frames * arguments.height * arguments.width // 4
    t = torch.tensor([937.0], device=arguments.device)

    def step():
        with torch.no_grad(), torch.autocast(arguments.device, dtype=dtype, enabled=dtype != torch.float32):
            out = model([x], t=t, context=[context], seq_len=seq_len)[0]
        if arguments.device == "cuda":
            torch.cuda.synchronize()
        return out

    step()  # warm-up
    start = time.perf_counter()
    for _ in range(arguments.repeats):
        step()
    seconds = (time.perf_counter() - start) / arguments.repeats
    print(f"pytorch {torch.__version__} {arguments.device} {arguments.dtype} threads={torch.get_num_threads()} "
          f"layers={arguments.layers} tokens={seq_len}: {seconds:.3f} s/step")


if __name__ == "__main__":
    main()
