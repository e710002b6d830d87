#!/usr/bin/python3
"""A PyKMIP 0.10 client (kmip.pie.client.ProxyKmipClient) under load against a kms cluster.

Used by test/cluster/failover.test.ts. For --duration seconds it creates and registers AES
keys (names TAG-N), activates, revokes, destroys, gets and locates them, on the first
endpoint that answers; when a request fails (connection lost, timeout, an error answer) it
reconnects, to the next endpoint of the list, and carries on.

Every request prints one JSON line on stdout as soon as its outcome is known, flushed:
  {"op": "Create", "ok": true, "uid": "...", "name": "...", "t0": s, "t1": s, "ep": i}
  {"op": "Get", "ok": true, "uid": "...", "hex": "<key bytes>", ...}
  {"op": "Register", "ok": true, "uid": "...", "hex": "<key bytes>", ...}
  {"op": "Locate", "ok": true, "uids": [...], "name": "...", ...}
  {"op": OP, "ok": false, "uid"?: ..., "name"?: ..., "error": "...", ...}
A failed request may or may not have taken effect: the test's model allows both. Key bytes
are test data made here (random), never a server's secret. Times are time.time() seconds.

usage: pykmip_load.py --endpoints H:P,H:P --cert C --key K --ca CA --duration S --tag T
                      --config-file EMPTY_FILE [--seed N] [--timeout S]
"""
import argparse
import json
import logging
import os
import random
import sys
import time

from kmip.core import enums
from kmip.core.factories.attributes import AttributeFactory
from kmip.pie import client as pie_client
from kmip.pie import objects as pobjects

attribute_factory = AttributeFactory()


def emit(record):
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def connect(args, endpoint):
    host, port = endpoint.rsplit(":", 1)
    client = pie_client.ProxyKmipClient(
        hostname=host,
        port=int(port),
        cert=args.cert,
        key=args.key,
        ca=args.ca,
        config_file=args.config_file,
        kmip_version=enums.KMIPVersion.KMIP_1_2,
    )
    client.open()
    # PyKMIP sets no timeout of its own: a stopped server would hang the client for ever.
    client.proxy.socket.settimeout(args.timeout)
    return client


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoints", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    rand = random.Random(args.seed)
    endpoints = args.endpoints.split(",")
    ep = 0
    client = None
    # uid -> state name, for the keys this client knows the state of (no request in doubt)
    keys = {}
    seq = 0
    deadline = time.time() + args.duration
    while time.time() < deadline:
        if client is None:
            try:
                client = connect(args, endpoints[ep])
            except Exception as e:  # noqa: BLE001 - any failure to connect: try the next one
                emit({"op": "Connect", "ok": False, "error": type(e).__name__, "ep": ep, "t0": time.time(), "t1": time.time()})
                client = None
                ep = (ep + 1) % len(endpoints)
                time.sleep(0.2)
                continue
        by_state = {}
        for uid, st in keys.items():
            by_state.setdefault(st, []).append(uid)
        r = rand.random()
        record = {"ep": ep, "t0": time.time()}
        try:
            if r < 0.12 and by_state.get("PreActive"):
                uid = rand.choice(by_state["PreActive"])
                record.update(op="Activate", uid=uid)
                del keys[uid]
                client.activate(uid)
                keys[uid] = "Active"
            elif r < 0.22 and by_state.get("Active"):
                uid = rand.choice(by_state["Active"])
                record.update(op="Revoke", uid=uid)
                del keys[uid]
                client.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, uid)
                keys[uid] = "Deactivated"
            elif r < 0.32 and (by_state.get("PreActive") or by_state.get("Deactivated")):
                uid = rand.choice(by_state.get("PreActive", []) + by_state.get("Deactivated", []))
                record.update(op="Destroy", uid=uid)
                del keys[uid]
                client.destroy(uid)
                keys[uid] = "Destroyed"
            elif r < 0.5 and keys:
                live = [u for u, s in keys.items() if s != "Destroyed"]
                if not live:
                    continue
                uid = rand.choice(live)
                record.update(op="Get", uid=uid)
                key = client.get(uid)
                record["hex"] = bytes(key.value).hex()
            elif r < 0.58 and keys:
                uid = rand.choice(list(keys))
                record.update(op="Locate", uid=uid)
                found = client.locate(attributes=[attribute_factory.create_attribute(enums.AttributeType.NAME, name_of[uid])])
                record["uids"] = list(found)
                record["name"] = name_of[uid]
            elif r < 0.8:
                seq += 1
                name = "%s-%d" % (args.tag, seq)
                record.update(op="Create", name=name)
                uid = client.create(enums.CryptographicAlgorithm.AES, 256, name=name,
                                    cryptographic_usage_mask=[enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT])
                record["uid"] = uid
                name_of[uid] = name
                keys[uid] = "PreActive"
            else:
                seq += 1
                name = "%s-%d" % (args.tag, seq)
                value = bytes(rand.getrandbits(8) for _ in range(32))
                record.update(op="Register", name=name, hex=value.hex())
                key = pobjects.SymmetricKey(enums.CryptographicAlgorithm.AES, 256, value, name=name,
                                            masks=[enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT])
                uid = client.register(key)
                record["uid"] = uid
                name_of[uid] = name
                keys[uid] = "PreActive"
            record["ok"] = True
        except Exception as e:  # noqa: BLE001 - every failure is recorded; the key is left in doubt
            record["ok"] = False
            record["error"] = "%s: %s" % (type(e).__name__, str(e)[:200])
            try:
                client.close()
            except Exception:  # noqa: BLE001
                pass
            client = None
            ep = (ep + 1) % len(endpoints)
        record["t1"] = time.time()
        emit(record)
    if client is not None:
        try:
            client.close()
        except Exception:  # noqa: BLE001
            pass


name_of = {}

if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
