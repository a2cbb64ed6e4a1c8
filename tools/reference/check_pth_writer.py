"""Checks that PyTorch reads the .pth files x2v's writer (src/io/pth_writer.cpp) produces.

The gtest PthWriter.WritesFilesForTheTorchCheck writes build*/pth_writer_check/x2v_written.pth (plain zip)
and x2v_written_zip64.pth (every size and offset in zip64 fields). This script loads each file with
torch.load (weights_only True and False, with and without mmap) and compares every tensor, bit for bit,
with values it recomputes from the formula the test used (tests/io/test_pth_writer.cpp: formula_tensors).

Dev only:  python3 tools/reference/check_pth_writer.py build-media/pth_writer_check/*.pth
"""
import collections
import sys

import torch

# (name, dtype, shape) in the test's order; "transposed" is the formula tensor of its shape, transposed.
SPECS = [
    ("blocks.0.weight", torch.float32, (4, 5)),
    ("blocks.0.bias", torch.bfloat16, (7,)),
    ("half", torch.float16, (2, 3, 4)),
    ("e4m3", torch.float8_e4m3fn, (3, 5)),
    ("e5m2", torch.float8_e5m2, (6,)),
    ("int8", torch.int8, (2, 8)),
    ("int32", torch.int32, (3, 3)),
    ("uint8", torch.uint8, (300,)),
    ("scalar", torch.float32, ()),
    ("empty", torch.bfloat16, (0, 3)),
    ("transposed", torch.float32, (4, 5)),
]


def formula_tensor(t: int, dtype: torch.dtype, shape: tuple) -> torch.Tensor:
    count = 1
    for size in shape:
        count *= size
    seed = torch.arange(count, dtype=torch.int64) * 37 + t * 11
    if dtype == torch.int32:
        values = (seed * 104729 - 50000000).to(torch.int32)
    elif dtype == torch.int8:
        values = (seed % 256 - 128).to(torch.int8)
    elif dtype == torch.uint8:
        values = (seed % 256).to(torch.uint8)
    else:
        # float32 division first, then torch's own narrowing (round to nearest even).
        values = ((seed % 101 - 50).to(torch.float32) / 7.0).to(dtype)
    return values.reshape(shape)


def expected_state() -> "collections.OrderedDict[str, torch.Tensor]":
    state = collections.OrderedDict()
    for t, (name, dtype, shape) in enumerate(SPECS):
        tensor = formula_tensor(t, dtype, shape)
        state[name] = tensor.t() if name == "transposed" else tensor
    return state


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return torch.equal(a.reshape(-1).view(torch.uint8), b.reshape(-1).view(torch.uint8))


def check(path: str) -> int:
    expected = expected_state()
    failures = 0
    for weights_only in (True, False):
        for mmap in (False, True):
            loaded = torch.load(path, map_location="cpu", weights_only=weights_only, mmap=mmap)
            where = f"{path} (weights_only={weights_only}, mmap={mmap})"
            if not isinstance(loaded, collections.OrderedDict):
                print(f"FAIL {where}: loaded a {type(loaded).__name__}, not an OrderedDict")
                failures += 1
                continue
            if list(loaded) != list(expected):
                print(f"FAIL {where}: names {list(loaded)} != {list(expected)}")
                failures += 1
                continue
            for name, want in expected.items():
                got = loaded[name]
                if got.requires_grad or not same_bits(got, want):
                    print(f"FAIL {where}: '{name}' {got.dtype}{list(got.shape)} differs from {want.dtype}"
                          f"{list(want.shape)}")
                    failures += 1
    if failures == 0:
        print(f"ok   {path}: {len(expected)} tensors equal under all four torch.load modes")
    return failures


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    failures = sum(check(path) for path in sys.argv[1:])
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
