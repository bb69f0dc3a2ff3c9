#!/usr/bin/python3
"""The worker a user would write instead of RIDE, for ride-bench-pipeline's python
column: confluent-kafka and OpenCV (Debian's python3-confluent-kafka and
python3-opencv), one process doing what RIDE's two stages do, with its best
settings (batched consume, linger, no per-message flush).

It reads the frames RIDE's first stage reads, in RIDE's wire format
(docs/wire-format.md): it parses the 72-byte header, joins a raw frame's chunks,
decodes JPEG with cv2.imdecode, converts to grey (cv2.cvtColor), computes the
local standard deviation k=5 with OpenCV's recipe (float boxFilter of x and x^2,
sqrt(E[x^2] - E[x]^2), to 8 bits) and produces each result, raw, as one message
to the output topic. It checks no CRC and commits offsets automatically: both
make it cheaper than RIDE's stages, which verify every message and commit after
delivery."""

import argparse
import signal
import struct
import sys

import cv2
import numpy as np
from confluent_kafka import Consumer, Producer

HEADER = struct.Struct("<4sHHHHHHIIIIQQQIHHII")
ENCODING_JPEG = 1
KSIZE = (5, 5)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--threads", type=int, default=1, help="cv2.setNumThreads; 0: OpenCV's own")
    broker = p.add_mutually_exclusive_group()
    broker.add_argument("--embedded", action="store_true",
                        help="the broker is RIDE's embedded one (librdkafka's mock)")
    broker.add_argument("--real-kafka", action="store_true")
    return p.parse_args()


def stddev(gray):
    x = gray.astype(np.float32)
    mean = cv2.boxFilter(x, cv2.CV_32F, KSIZE, borderType=cv2.BORDER_REFLECT_101)
    sqmean = cv2.boxFilter(x * x, cv2.CV_32F, KSIZE, borderType=cv2.BORDER_REFLECT_101)
    var = np.maximum(sqmean - mean * mean, 0)
    return cv2.convertScaleAbs(cv2.sqrt(var))


def to_image(header, payload):
    (_, _, _, _, encoding, channels, _, width, height, stride) = header[:10]
    if encoding == ENCODING_JPEG:
        return cv2.imdecode(np.frombuffer(payload, np.uint8), cv2.IMREAD_COLOR)
    rows = np.frombuffer(payload, np.uint8).reshape(height, stride)
    return rows[:, : width * channels].reshape(height, width, channels)


def main():
    args = parse_args()
    if args.threads > 0:
        cv2.setNumThreads(args.threads)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # The embedded broker answers an empty fetch only after the whole wait, and
    # deletes whole message sets (RIDE's own settings for it, docs/kafka.md).
    fetch_wait = "10" if args.embedded else "100"
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
        "fetch.wait.max.ms": fetch_wait,
        "max.partition.fetch.bytes": 4194304,
    })
    producer_conf = {"bootstrap.servers": args.bootstrap, "linger.ms": 5,
                     "message.max.bytes": 1048576}
    if args.embedded:
        producer_conf["batch.num.messages"] = 1
    producer = Producer(producer_conf)
    consumer.subscribe([args.input])
    chunks = {}
    while True:
        for msg in consumer.consume(num_messages=64, timeout=0.1):
            if msg.error():
                continue
            value = msg.value()
            header = HEADER.unpack_from(value)
            header_len, stream, seq = header[2], header[10], header[11]
            chunk_index, chunk_count = header[15], header[16]
            payload = value[header_len:]
            if chunk_count > 1:
                parts = chunks.setdefault((stream, seq), [])
                parts.append(payload)
                if chunk_index + 1 < chunk_count:
                    continue
                payload = b"".join(chunks.pop((stream, seq)))
            gray = cv2.cvtColor(to_image(header, payload), cv2.COLOR_BGR2GRAY)
            result = stddev(gray)
            while True:
                try:
                    producer.produce(args.output, result.tobytes())
                    break
                except BufferError:
                    producer.poll(0.01)
            producer.poll(0)


if __name__ == "__main__":
    main()
