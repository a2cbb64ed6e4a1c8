#!/usr/bin/env python3
"""Writes the checkpoint fixtures of tests/io with the real libraries (torch.save, safetensors).

The same seeded state dict is saved as .safetensors, as .pth (with a transposed tensor, a storage
shared by two tensors, and an fp8 tensor that torch writes through _rebuild_tensor_v3), nested under
{"state_dict": ...}, as a 2-shard safetensors checkpoint with an index, as a zip64 .pth, as a protocol-4
.pth, next to a .pth whose pickle calls os.system (which x2v must refuse), and files with dtypes x2v does
not load.
`expected.json` holds each tensor's dtype, shape and raw little-endian bytes as torch sees them, so the
C++ tests compare against torch and not only format against format.

Deterministic: re-running writes byte-identical files (the random serialization id torch puts in each
archive is replaced by zeros and the zip64 copy gets a fixed timestamp).

Usage: python3 tools/reference/make_io_fixtures.py [--out tests/fixtures/io]
"""
import argparse
import collections
import io
import json
import os
import struct
import zipfile
import zlib

import torch
from safetensors.torch import save_file

SEED = 1234


def make_state_dict():
    generator = torch.Generator().manual_seed(SEED)

    def randn(*shape):
        return torch.randn(*shape, generator=generator)

    state = collections.OrderedDict()
    state["blocks.0.attn.q.weight"] = randn(8, 6)
    state["blocks.0.attn.q.bias"] = randn(8).to(torch.bfloat16)
    state["blocks.0.norm.weight"] = randn(6).to(torch.float16)
    state["blocks.0.ffn.0.weight"] = torch.randint(-128, 128, (4, 6), generator=generator, dtype=torch.int8)
    state["blocks.0.ffn.0.weight_scale"] = torch.rand(4, 1, generator=generator)
    state["blocks.0.ffn.2.weight"] = (randn(4, 8) * 40).to(torch.float8_e4m3fn)
    state["blocks.0.ffn.2.weight_e5m2"] = (randn(3, 4) * 1000).to(torch.float8_e5m2)
    # A view with strides [1, 5]: torch.save keeps the strides, safetensors needs a contiguous copy.
    state["head.transposed"] = randn(6, 5).t()
    base = randn(4, 5)
    state["head.base"] = base
    state["head.rows"] = base[1:3]  # shares base's storage at element offset 5
    state["pos.ids"] = torch.arange(-3, 4, dtype=torch.int32) * 100000
    state["mask"] = torch.tensor([0, 1, 127, 255], dtype=torch.uint8)
    state["scalar"] = torch.tensor(2.5)
    state["empty"] = torch.zeros(0, 3)
    return state


def contiguous_copy(state):
    return collections.OrderedDict((name, tensor.contiguous().clone()) for name, tensor in state.items())


def make_unsupported_state_dict():
    generator = torch.Generator().manual_seed(SEED + 1)
    state = collections.OrderedDict()
    state["ok.weight"] = torch.randn(2, 3, generator=generator)
    state["double.weight"] = torch.randn(2, 2, generator=generator, dtype=torch.float64)
    state["long.ids"] = torch.arange(3, dtype=torch.int64)
    state["bool.mask"] = torch.tensor([True, False])
    return state


def zero_serialization_id(path):
    """torch.save writes a random id into .data/serialization_id; replace it with zeros in place."""
    with open(path, "rb") as stream:
        data = bytearray(stream.read())
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("/.data/serialization_id"))
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_length + extra_length
    replacement = b"0" * info.file_size
    data[start:start + info.file_size] = replacement
    crc = zlib.crc32(replacement)
    struct.pack_into("<I", data, info.header_offset + 14, crc)
    # Patch the CRC in the entry's central directory record too (found by its name).
    name = info.filename.encode()
    position = data.find(b"PK\x01\x02")
    while position >= 0:
        length = struct.unpack_from("<H", data, position + 28)[0]
        if data[position + 46:position + 46 + length] == name:
            struct.pack_into("<I", data, position + 16, crc)
            break
        position = data.find(b"PK\x01\x02", position + 4)
    with open(path, "wb") as stream:
        stream.write(data)


def torch_save(obj, path, via_buffer=False, protocol=2):
    if via_buffer:  # torch names the archive's folder "archive" when it does not write to a named file
        buffer = io.BytesIO()
        torch.save(obj, buffer, pickle_protocol=protocol)
        with open(path, "wb") as stream:
            stream.write(buffer.getvalue())
    else:
        torch.save(obj, path, pickle_protocol=protocol)
    zero_serialization_id(path)


def repack_zip64(source, target):
    """Copies a torch archive with every zip64 record forced (as torch writes for files over 4 GiB)."""
    saved = zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT
    zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = 0, 0
    try:
        with zipfile.ZipFile(source) as reader, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as writer:
            for info in reader.infolist():
                copy = zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0))
                copy.compress_type = zipfile.ZIP_STORED
                copy.external_attr = 0o644 << 16
                writer.writestr(copy, reader.read(info.filename))
    finally:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = saved


class RunsShellCommand:
    """Pickles as a call to os.system: what a malicious checkpoint does."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


def expected_values(state):
    result = collections.OrderedDict()
    for name, tensor in state.items():
        contiguous = tensor.contiguous()
        raw = contiguous.reshape(-1).view(torch.uint8)
        result[name] = {
            "dtype": str(tensor.dtype).replace("torch.", ""),
            "shape": list(tensor.shape),
            "hex": raw.numpy().tobytes().hex(),
        }
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "io")
    parser.add_argument("--out", default=default_out)
    out = os.path.abspath(parser.parse_args().out)
    os.makedirs(os.path.join(out, "sharded"), exist_ok=True)

    state = make_state_dict()
    contiguous = contiguous_copy(state)
    # One metadata key only: safetensors writes metadata from a hash map, so several keys come out in a
    # different order on each run.
    save_file(contiguous, os.path.join(out, "weights.safetensors"), metadata={"format": "pt"})
    torch_save(state, os.path.join(out, "weights.pth"))
    torch_save({"state_dict": state, "epoch": 7, "lr": 0.5, "note": "fixture", "steps": [1, 2, 3]},
               os.path.join(out, "weights_nested.pth"), via_buffer=True)
    repack_zip64(os.path.join(out, "weights.pth"), os.path.join(out, "weights_zip64.pth"))
    # Protocol 4 pickles use FRAME, MEMOIZE, SHORT_BINUNICODE and STACK_GLOBAL instead.
    torch_save(state, os.path.join(out, "weights_protocol4.pth"), protocol=4)

    names = list(contiguous)
    shards = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map = collections.OrderedDict()
    total_size = 0
    for index, shard_names in enumerate(shards):
        file_name = f"diffusion_pytorch_model-{index + 1:05d}-of-{len(shards):05d}.safetensors"
        shard = collections.OrderedDict((name, contiguous[name]) for name in shard_names)
        save_file(shard, os.path.join(out, "sharded", file_name), metadata={"format": "pt"})
        for name in shard_names:
            weight_map[name] = file_name
            total_size += contiguous[name].numel() * contiguous[name].element_size()
    with open(os.path.join(out, "sharded", "diffusion_pytorch_model.safetensors.index.json"), "w") as stream:
        json.dump({"metadata": {"total_size": total_size}, "weight_map": weight_map}, stream, indent=2)
        stream.write("\n")

    torch_save({"weight": state["blocks.0.attn.q.weight"], "payload": RunsShellCommand()},
               os.path.join(out, "forbidden_global.pth"))

    unsupported = make_unsupported_state_dict()
    save_file(unsupported, os.path.join(out, "unsupported_dtypes.safetensors"))
    torch_save(unsupported, os.path.join(out, "unsupported_dtypes.pth"))

    with open(os.path.join(out, "expected.json"), "w") as stream:
        json.dump(expected_values(state), stream, indent=1)
        stream.write("\n")

    # The fixtures must be what torch itself reads back.
    for file_name in ("weights.pth", "weights_zip64.pth", "weights_protocol4.pth"):
        # torch's own weights_only unpickler lacks FRAME (protocol 4); this file is ours, so load it fully.
        loaded = torch.load(os.path.join(out, file_name), weights_only="protocol4" not in file_name)
        assert all(torch.equal(loaded[name].float(), state[name].float()) for name in state), file_name
    total = sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(out) for f in files)
    print(f"wrote fixtures to {out} ({total} bytes)")


if __name__ == "__main__":
    main()
