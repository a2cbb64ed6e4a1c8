"""Writes tests/fixtures/random/: torch's own CPU float32 randn outputs, so x2v's seeded noise
(src/schedulers/torch_random.h) is checked bit for bit against torch.manual_seed(s); torch.randn(n).

Files (all raw little-endian float32):
  randn_s<seed>_n<count>.f32   torch.manual_seed(seed); torch.randn(count)
  randn_large_head.f32 / randn_large_tail.f32
                               first / last values of one large randn; index.json also holds a
                               hash of all its values so the middle is checked without storing it
                               (and the hash of a full Wan latent-sized randn)
  sequence.f32                 successive randn calls on one seeded generator, concatenated
index.json describes every file.

Run: python3 tools/reference/make_random_fixtures.py   (needs torch, numpy; dev only)
"""
import json
import pathlib

import numpy as np
import torch

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "random"

SEEDS = [0, 42, 2025, 2**32 + 7]
# Below 16 torch takes a double-precision scalar path; 16 and up the float32 Box-Muller in blocks
# of 16, redrawing the last block when the count is not a multiple of 16.
COUNTS = [1, 7, 16, 17, 100, 1000, 16 * 3 * 8 * 8]
LARGE_SEED = 1234
LARGE_COUNT = 50_001
LARGE_KEPT = 2048
# The Wan2.1 480p latent noise: 16 channels x 21 frames x 60 x 104 (checked by hash only).
LATENT_SEED = 42
LATENT_SHAPE = (16, 21, 60, 104)
SEQUENCE_SEED = 7
# Odd small counts leave a cached second Box-Muller sample in the generator; counts >= 16 do not
# use that cache, so the call after them must still pick it up.
SEQUENCE_COUNTS = [5, 100, 3, 17, 1, 16, 2, 33]


def bits_hash(values: np.ndarray) -> int:
    """Order-dependent 64-bit hash of float32 bit patterns (mirrored in test_torch_random.cpp):
    sum over i of ((bits_i ^ (i * GOLDEN)) * MIX) mod 2^64. Any change to one value changes it."""
    bits = values.view(np.uint32).astype(np.uint64)
    positions = np.arange(bits.size, dtype=np.uint64)
    with np.errstate(over="ignore"):
        terms = (bits ^ (positions * np.uint64(0x9E3779B97F4A7C15))) * np.uint64(0xFF51AFD7ED558CCD)
        return int(terms.sum(dtype=np.uint64))


def randn(seed: int, count: int) -> np.ndarray:
    torch.manual_seed(seed)
    return torch.randn(count, dtype=torch.float32).numpy()


def main() -> None:
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    index = {
        "torch_version": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cases": [],
    }
    for seed in SEEDS:
        for count in COUNTS:
            name = f"randn_s{seed}_n{count}.f32"
            randn(seed, count).tofile(OUT / name)
            index["cases"].append({"file": name, "seed": seed, "count": count})

    large = randn(LARGE_SEED, LARGE_COUNT)
    large[:LARGE_KEPT].tofile(OUT / "randn_large_head.f32")
    large[-LARGE_KEPT:].tofile(OUT / "randn_large_tail.f32")
    index["large"] = {
        "seed": LARGE_SEED,
        "count": LARGE_COUNT,
        "kept": LARGE_KEPT,
        "head": "randn_large_head.f32",
        "tail": "randn_large_tail.f32",
        "hash": f"{bits_hash(large):016x}",
    }

    torch.manual_seed(LATENT_SEED)
    latent = torch.randn(*LATENT_SHAPE, dtype=torch.float32).numpy().reshape(-1)
    index["latent"] = {"seed": LATENT_SEED, "shape": list(LATENT_SHAPE), "count": int(latent.size),
                       "hash": f"{bits_hash(latent):016x}"}

    generator = torch.Generator().manual_seed(SEQUENCE_SEED)
    parts = [torch.randn(count, generator=generator).numpy() for count in SEQUENCE_COUNTS]
    np.concatenate(parts).tofile(OUT / "sequence.f32")
    index["sequence"] = {"seed": SEQUENCE_SEED, "counts": SEQUENCE_COUNTS, "file": "sequence.f32"}

    (OUT / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    total = sum(path.stat().st_size for path in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} files, {total} bytes, to {OUT}")


if __name__ == "__main__":
    main()
