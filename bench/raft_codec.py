"""A benchmark of the Raft message codecs: encode + decode time of the binary and JSON framings.

Run from the repository root: ``.venv/bin/python bench/raft_codec.py [--runs 7] [--loops 2000]``.
Each figure is the median over ``--runs`` runs of the mean time of one encode+decode round trip, measured
with ``time.perf_counter`` over ``--loops`` round trips; the encoded size is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

from services.etcd.raft import codec
from services.etcd.raft.types import Entry, Message, MessageType

Encoder = Callable[[Message], bytes]
Decoder = Callable[[bytes], Message]


def typical_append() -> Message:
    """A leader replicating a batch: 64 entries of 200 bytes, as under a steady write load."""
    entries = tuple(Entry(term=7, index=100_000 + i, data=os.urandom(200)) for i in range(64))
    return Message(
        type=MessageType.APP,
        to="cp-2",
        frm="cp-1",
        term=7,
        log_term=7,
        index=99_999,
        entries=entries,
        commit=99_990,
    )


def heartbeat() -> Message:
    return Message(type=MessageType.HEARTBEAT, to="cp-2", frm="cp-1", term=7, commit=99_990)


def measure(encode: Encoder, decode: Decoder, msg: Message, runs: int, loops: int) -> float:
    """Median seconds per encode+decode round trip."""
    assert decode(encode(msg)) == msg
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(loops):
            decode(encode(msg))
        samples.append((time.perf_counter() - start) / loops)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--loops", type=int, default=2000)
    args = parser.parse_args()

    framings: dict[str, tuple[Encoder, Decoder]] = {
        "binary": (codec.encode_message_binary, codec.decode_message_binary),
        "json": (codec.encode_message_json, codec.decode_message_json),
    }
    print(f"python {sys.version.split()[0]}, median of {args.runs} runs x {args.loops} round trips")
    print(f"{'message':<28}{'framing':<9}{'encode+decode':>15}{'bytes':>9}")
    for label, msg in (("MsgApp 64 x 200 B entries", typical_append()), ("heartbeat", heartbeat())):
        # Fewer loops for the big message keep the run short without losing precision.
        loops = args.loops // 10 if msg.entries else args.loops
        results = {}
        for name, (encode, decode) in framings.items():
            results[name] = measure(encode, decode, msg, args.runs, loops)
            print(f"{label:<28}{name:<9}{results[name] * 1e6:>12.1f} us{len(encode(msg)):>9}")
        print(f"{'':<28}json / binary = {results['json'] / results['binary']:.1f}x")
    default = "binary" if codec.encode_message is codec.encode_message_binary else "json"
    print(f"default framing: {default}")


if __name__ == "__main__":
    main()
