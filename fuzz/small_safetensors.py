"""Writes a small, valid safetensors file built from a real one, as a seed for the fuzzer: the
real header's smallest tensors (names, dtypes, shapes, data) up to a byte budget, and its metadata.

usage: python3 small_safetensors.py IN OUT [MAX_DATA_BYTES]
"""
import json
import struct
import sys


def main():
    source, target = sys.argv[1], sys.argv[2]
    budget = int(sys.argv[3]) if len(sys.argv) > 3 else 2048
    with open(source, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    metadata = header.pop("__metadata__", None)
    by_size = sorted(header.items(), key=lambda item: item[1]["data_offsets"][1] - item[1]["data_offsets"][0])
    out_header, out_data = {}, b""
    for name, entry in by_size:
        begin, end = entry["data_offsets"]
        if len(out_data) + end - begin > budget:
            break
        out_header[name] = dict(entry, data_offsets=[len(out_data), len(out_data) + end - begin])
        out_data += data[begin:end]
    if metadata is not None:
        out_header["__metadata__"] = metadata
    encoded = json.dumps(out_header).encode()
    with open(target, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)) + encoded + out_data)


if __name__ == "__main__":
    main()
