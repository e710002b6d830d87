#!/usr/bin/python3
"""PyKMIP side of the codec benchmark (driven by bench/codec.ts; see the notes there).

Builds the four benchmark messages ONCE as PyKMIP objects (KMIP 1.2 encoding), so the
TypeScript codec and PyKMIP's codec are measured on byte-identical input.

  pykmip_codec.py messages
      Print {"kmip": "...", "messages": [{"name", "description", "hex"}, ...]} as JSON.
  pykmip_codec.py time HEXFILE [--round-seconds S] [--rounds N] [--warmup-seconds W]
      Read the JSON printed by `messages` from HEXFILE (so the bytes are exactly the ones
      the TypeScript side checked), then for every message time PyKMIP's
      RequestMessage/ResponseMessage.read (decode) and .write (encode). Only read/write
      (plus the BytearrayStream they need) is inside the timed loop: no process start, no
      object building. Each measurement: a warm-up of W seconds, then N rounds of about S
      seconds each; the median round is reported, in operations per second, as JSON on
      stdout. Progress goes to stderr.
  pykmip_codec.py serve HEXFILE [same options]
      The same measurements on request, so that the caller can alternate them with its own
      (both sides then see the same machine load): after one JSON "ready" line, each stdin
      line "decode NAME" or "encode NAME" is answered by one JSON line; "quit" or EOF ends.

Python's garbage collector stays enabled, as it is in a real PyKMIP server (Node's GC is
likewise part of our numbers).

Needs only Debian's python3-pykmip (0.10) and python3-cryptography.
"""

import json
import random
import statistics
import sys
import time
import uuid

from kmip.core import enums
from kmip.core import attributes
from kmip.core import misc
from kmip.core import objects as cobjects
from kmip.core import secrets
from kmip.core.factories.attributes import AttributeFactory
from kmip.core.messages import contents
from kmip.core.messages import messages
from kmip.core.messages import payloads
from kmip.core.utils import BytearrayStream

KMIP_VERSION = enums.KMIPVersion.KMIP_1_2
# A fixed time stamp and seeded identifiers keep the messages the same from run to run
# (only the RSA key differs: it is generated afresh, its DER size varies by a byte or two).
TIME_STAMP = 1_700_000_000
SEED = 20240601


def _protocol_version():
    return contents.ProtocolVersion(1, 2)


def _uuids(rng, n):
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(n)]


def _request(batch_items):
    header = messages.RequestHeader(
        protocol_version=_protocol_version(),
        batch_count=contents.BatchCount(len(batch_items)),
    )
    return messages.RequestMessage(request_header=header, batch_items=batch_items)


def _response(operation, payload):
    header = messages.ResponseHeader(
        protocol_version=_protocol_version(),
        time_stamp=contents.TimeStamp(TIME_STAMP),
        batch_count=contents.BatchCount(1),
    )
    item = messages.ResponseBatchItem(
        operation=contents.Operation(operation),
        result_status=contents.ResultStatus(enums.ResultStatus.SUCCESS),
        response_payload=payload,
    )
    return messages.ResponseMessage(response_header=header, batch_items=[item])


def _rsa4096_pkcs1_der():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    return key.private_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PrivateFormat.TraditionalOpenSSL,  # PKCS#1 RSAPrivateKey
        encryption_algorithm=serialization.NoEncryption(),
    )


def build_messages(der=None):
    """The four benchmark messages, as (name, description, PyKMIP message object).

    `der` is the RSA private key to carry; a fresh one is generated when it is None.
    """
    rng = random.Random(SEED)

    # 1. A small Get request: one batch item carrying one Unique Identifier.
    get_req = _request([
        messages.RequestBatchItem(
            operation=contents.Operation(enums.Operation.GET),
            request_payload=payloads.GetRequestPayload(unique_identifier=_uuids(rng, 1)[0]),
        )
    ])

    # 2. A Get response carrying an RSA-4096 private key (PKCS#1 DER, ~2.3 KB).
    if der is None:
        der = _rsa4096_pkcs1_der()
    key_block = cobjects.KeyBlock(
        key_format_type=misc.KeyFormatType(enums.KeyFormatType.PKCS_1),
        key_value=cobjects.KeyValue(cobjects.KeyMaterial(der)),
        cryptographic_algorithm=attributes.CryptographicAlgorithm(enums.CryptographicAlgorithm.RSA),
        cryptographic_length=attributes.CryptographicLength(4096),
    )
    get_resp = _response(
        enums.Operation.GET,
        payloads.GetResponsePayload(
            object_type=enums.ObjectType.PRIVATE_KEY,
            unique_identifier=_uuids(rng, 1)[0],
            secret=secrets.PrivateKey(key_block),
        ),
    )

    # 3. A Locate response with 1,000 Unique Identifiers.
    locate_resp = _response(
        enums.Operation.LOCATE,
        payloads.LocateResponsePayload(unique_identifiers=_uuids(rng, 1000)),
    )

    # 4. A batch of 32 Create requests for AES-256 keys, four attributes each.
    af = AttributeFactory()
    usage = [enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT]
    items = []
    for i in range(32):
        template = cobjects.TemplateAttribute(attributes=[
            af.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_ALGORITHM, enums.CryptographicAlgorithm.AES),
            af.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_LENGTH, 256),
            af.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_USAGE_MASK, usage),
            af.create_attribute(enums.AttributeType.NAME, "bench-key-%04d" % i),
        ])
        items.append(messages.RequestBatchItem(
            operation=contents.Operation(enums.Operation.CREATE),
            unique_batch_item_id=contents.UniqueBatchItemID(i.to_bytes(4, "big")),
            request_payload=payloads.CreateRequestPayload(
                object_type=enums.ObjectType.SYMMETRIC_KEY,
                template_attribute=template,
            ),
        ))
    create_batch = _request(items)

    return [
        ("get-request", "Get request, 1 batch item, 1 Unique Identifier", get_req),
        ("get-response-rsa4096", "Get response, RSA-4096 private key (PKCS#1 DER) in a Key Block", get_resp),
        ("locate-response-1000", "Locate response, 1,000 Unique Identifiers", locate_resp),
        ("create-batch-32", "Request batch of 32 Create (AES-256, 4 attributes each)", create_batch),
    ]


def encode(msg):
    stream = BytearrayStream()
    msg.write(stream, kmip_version=KMIP_VERSION)
    return bytes(stream.buffer)


def decode(name, data):
    msg = messages.ResponseMessage() if "response" in name else messages.RequestMessage()
    msg.read(BytearrayStream(data))
    return msg


def cmd_messages():
    out = []
    for name, description, msg in build_messages():
        data = encode(msg)
        # PyKMIP must at least read back what it wrote and build the same bytes again.
        decode(name, data)
        if encode(msg) != data:
            raise SystemExit("PyKMIP encodes %s differently twice" % name)
        out.append({"name": name, "description": description, "hex": data.hex()})
    json.dump({"kmip": "1.2", "pykmip": _pykmip_version(), "messages": out}, sys.stdout)
    sys.stdout.write("\n")


def _pykmip_version():
    try:
        import kmip
        return getattr(kmip, "__version__", "unknown")
    except Exception:  # pragma: no cover
        return "unknown"


def _rate(fn, seconds):
    """Run fn repeatedly for about `seconds`; return operations per second."""
    clock = time.perf_counter
    n = 0
    start = clock()
    deadline = start + seconds
    now = start
    while now < deadline:
        fn()
        n += 1
        now = clock()
    return n / (now - start)


def measure(fn, warmup, rounds, round_seconds):
    _rate(fn, warmup)
    rates = [_rate(fn, round_seconds) for _ in range(rounds)]
    return {"ops_per_sec": statistics.median(rates), "rounds": rates}


def _load(path):
    """The benchmark bytes from `path`, and PyKMIP message objects that encode to them."""
    with open(path) as f:
        spec = json.load(f)
    wire = [(m["name"], bytes.fromhex(m["hex"])) for m in spec["messages"]]
    # Encode is timed on message objects built the way a PyKMIP client or server builds
    # them, not on decoded ones: PyKMIP 0.10's TextString.read sets padding_length to 8 for
    # a string whose length is a multiple of 8 ("Cryptographic Usage Mask" has 24 bytes),
    # so writing a decoded message emits 8 stray zero bytes and is not byte-identical.
    # Rebuild the objects with the same RSA key and check they give exactly these bytes.
    key_msg = decode("get-response-rsa4096", dict(wire)["get-response-rsa4096"])
    der = key_msg.batch_items[0].response_payload.secret.key_block.key_value.key_material.value
    built = {name: msg for name, _, msg in build_messages(der)}
    for name, data in wire:
        decode(name, data)
        if encode(built[name]) != data:
            raise SystemExit("PyKMIP's rebuilt %s differs from the benchmark bytes" % name)
    return wire, built


def _measure_op(op, name, data, msg, opts):
    fn = (lambda: decode(name, data)) if op == "decode" else (lambda: encode(msg))
    return measure(fn, opts["--warmup-seconds"], int(opts["--rounds"]), opts["--round-seconds"])


def _header(opts):
    return {
        "note": "encode timed on freshly built message objects (see the comment in _load)",
        "python": sys.version.split()[0],
        "pykmip": _pykmip_version(),
        "round_seconds": opts["--round-seconds"],
        "rounds": int(opts["--rounds"]),
        "warmup_seconds": opts["--warmup-seconds"],
    }


def cmd_time(path, opts):
    wire, built = _load(path)
    results = []
    for name, data in wire:
        entry = {"name": name, "bytes": len(data)}
        for op in ("decode", "encode"):
            sys.stderr.write("  pykmip %-22s %s ...\n" % (name, op))
            sys.stderr.flush()
            entry[op] = _measure_op(op, name, data, built[name], opts)
        results.append(entry)
    out = _header(opts)
    out["results"] = results
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


def cmd_serve(path, opts):
    """One JSON line when ready, then one JSON line per request line "decode|encode NAME"."""
    wire, built = _load(path)
    data_by_name = dict(wire)
    ready = _header(opts)
    ready["ready"] = True
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            break
        if len(words) != 2 or words[0] not in ("decode", "encode") or words[1] not in data_by_name:
            raise SystemExit("bad request %r" % line)
        op, name = words
        result = _measure_op(op, name, data_by_name[name], built[name], opts)
        result.update({"name": name, "op": op, "bytes": len(data_by_name[name])})
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


def main(argv):
    if len(argv) >= 1 and argv[0] == "messages":
        cmd_messages()
        return
    if len(argv) >= 2 and argv[0] in ("time", "serve"):
        opts = {"--round-seconds": 0.3, "--rounds": 5, "--warmup-seconds": 0.3}
        rest = argv[2:]
        while rest:
            if len(rest) < 2 or rest[0] not in opts:
                raise SystemExit("unknown option %r" % rest[0])
            opts[rest[0]] = float(rest[1])
            rest = rest[2:]
        (cmd_time if argv[0] == "time" else cmd_serve)(argv[1], opts)
        return
    raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
