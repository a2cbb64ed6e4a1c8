"""Writes tests/fixtures/dtype/: float32 inputs and torch's conversions of them to bf16, f16, float8_e4m3fn
and float8_e5m2 (raw little-endian bits), so the C++ conversions are checked against torch itself.

Run: python3 tools/reference/make_dtype_fixtures.py   (needs torch, numpy; dev only)
"""
import pathlib

import numpy as np
import torch

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "dtype"


def inputs() -> np.ndarray:
    rng = np.random.default_rng(1234)
    parts = [
        rng.standard_normal(2000) * 10.0 ** rng.uniform(-9, 5, 2000),  # wide magnitudes
        rng.uniform(-480, 480, 1000),  # the e4m3 range and just past it
        rng.uniform(-70000, 70000, 500),  # the e5m2 and f16 ranges and past them
        rng.uniform(-2e-5, 2e-5, 500),  # f16/f8 subnormals
    ]
    # Exact ties for bf16 rounding: low 16 bits = 0x8000 with odd and even kept parts.
    tie_bits = (rng.integers(0x3000, 0x4800, 600, dtype=np.uint32) << 16) | 0x8000
    parts.append(tie_bits.view(np.float32).astype(np.float64))
    # Exact ties for f16: values halfway between adjacent halfs.
    halfs = rng.uniform(-1000, 1000, 400).astype(np.float16)
    next_halfs = np.nextafter(halfs, np.float16(np.inf), dtype=np.float16)
    parts.append((halfs.astype(np.float64) + next_halfs.astype(np.float64)) / 2)
    specials = [0.0, -0.0, np.inf, -np.inf, 448.0, -448.0, 464.0, 449.0, 57344.0, 61440.0, 65504.0, 65520.0,
                2.0**-6, 2.0**-9, 2.0**-10, 2.0**-14, 2.0**-16, 2.0**-17, 2.0**-24, 2.0**-25, 1e-45, 3.4e38]
    parts.append(np.array(specials))
    values = np.concatenate(parts).astype(np.float32)
    return values


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    values = inputs()
    tensor = torch.from_numpy(values)
    values.tofile(OUT / "inputs.f32")
    tensor.to(torch.bfloat16).view(torch.int16).numpy().tofile(OUT / "torch.bf16")
    tensor.to(torch.float16).view(torch.int16).numpy().tofile(OUT / "torch.f16")
    tensor.to(torch.float8_e4m3fn).view(torch.uint8).numpy().tofile(OUT / "torch.f8_e4m3")
    tensor.to(torch.float8_e5m2).view(torch.uint8).numpy().tofile(OUT / "torch.f8_e5m2")
    codes = torch.arange(256, dtype=torch.int32).to(torch.uint8)
    codes.view(torch.float8_e4m3fn).float().numpy().tofile(OUT / "decode.f8_e4m3")
    codes.view(torch.float8_e5m2).float().numpy().tofile(OUT / "decode.f8_e5m2")
    print(f"wrote {len(values)} values to {OUT}")


if __name__ == "__main__":
    main()
