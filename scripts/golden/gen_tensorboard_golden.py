#!/usr/bin/env python3
"""Golden TensorBoard event file, written by TensorBoard's own writer code.

Never run by CI. Needs `pip install tensorboard` (2.x). Writes fixtures/train/tensorboard.tfevents:
the file-version event and a few scalar events with fixed wall times, framed by TensorBoard's
RecordWriter. crates/train/tests/tensorboard.rs writes the same events with the Rust
EventWriter and compares the bytes, then reads the file back with this reader:

    python3 scripts/golden/gen_tensorboard_golden.py --read FILE   # prints tag, step, value

Usage: python3 scripts/golden/gen_tensorboard_golden.py [OUT]
"""

import os
import sys

from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.record_writer import RecordWriter

# (wall_time, step, tag, value); mirrored in crates/train/tests/tensorboard.rs.
EVENTS = [
    (1700000001.5, 1, "train/loss", 3.25),
    (1700000002.75, 2, "train/lr", 1e-3),
    (1700000100.0, 300, "eval/mrr", 0.1425),
    (1700000100.0, 300, "eval/loss", -0.0),
    (1700000100.0, 0, "eval/zero", 0.0),
    (1700000200.125, 2**40, "métrique/" + "x" * 150, 1e-30),
]
START = 1700000000.25


def write(path):
    with open(path, "wb") as f:
        w = RecordWriter(f)
        w.write(event_pb2.Event(wall_time=START, file_version="brain.Event:2").SerializeToString())
        for wall, step, tag, value in EVENTS:
            s = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])
            w.write(event_pb2.Event(wall_time=wall, step=step, summary=s).SerializeToString())


def read(path):
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    for e in EventFileLoader(path).Load():
        for v in e.summary.value:
            # Newer readers turn simple_value into a tensor; handle both.
            value = v.simple_value if v.HasField("simple_value") else v.tensor.float_val[0]
            print(f"{v.tag}\t{e.step}\t{value!r}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--read":
        read(sys.argv[2])
    else:
        here = os.path.dirname(os.path.abspath(__file__))
        out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
            here, "..", "..", "fixtures", "train", "tensorboard.tfevents")
        write(out)
        print("wrote", out)
