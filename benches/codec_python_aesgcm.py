"""Python `cryptography` AESGCM throughput (what Temporal's Python encryption sample uses), on the
same sizes as benches/codec.rs, for docs/benchmarks.md."""

import os
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SIZES = [(256, "256 B"), (4 << 10, "4 KiB"), (64 << 10, "64 KiB"), (1 << 20, "1 MiB")]


def throughput(size, fn, budget=0.7):
    for _ in range(3):
        fn()
    start = time.perf_counter()
    calls = 0
    while time.perf_counter() - start < budget:
        fn()
        calls += 1
    return size * calls / (time.perf_counter() - start) / (1024 * 1024)


def main():
    key = AESGCM(bytes([7]) * 32)
    print(f"{'size':>7}  {'py enc MiB/s':>13}  {'py dec MiB/s':>13}")
    for size, label in SIZES:
        data = bytes([0x5A]) * size
        nonce = os.urandom(12)
        sealed = key.encrypt(nonce, data, b"")
        enc = throughput(size, lambda: key.encrypt(os.urandom(12), data, b""))
        dec = throughput(size, lambda: key.decrypt(nonce, sealed, b""))
        print(f"{label:>7}  {enc:>13.0f}  {dec:>13.0f}")


if __name__ == "__main__":
    main()
