#!/usr/bin/python3
"""PyKMIP 0.10's get_attributes(uid) naming no attribute, on every object type the server creates
or registers, at one KMIP version.

Used by test/interop/pykmip-get-attributes.test.ts. Creates an AES-256 key (then activates it,
and revokes a second one), an RSA-2048 key pair, an EC-free X.509 certificate (RSA, registered)
and a Secret Data (registered, named); for each object, calls get_attributes(uid) with no names
and get_attribute_list(uid), and reports what PyKMIP decoded or where it failed.

usage: pykmip_get_attributes.py --host H --port P --cert C --key K --ca CA
                                --version 1.0|1.1|1.2|1.3|1.4|2.0 --tag UNIQUE --config-file EMPTY_FILE

stdout: JSON {"pykmip", "kmipVersion", "objects": {kind: {"uid", "all": {ok, names|error}, "list": [...]}}}
"""
import argparse
import datetime
import json
import logging
import sys
import traceback

import kmip
from kmip.core import enums
from kmip.pie import client as pie_client
from kmip.pie import objects as pobjects

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

VERSIONS = {
    "1.0": enums.KMIPVersion.KMIP_1_0,
    "1.1": enums.KMIPVersion.KMIP_1_1,
    "1.2": enums.KMIPVersion.KMIP_1_2,
    "1.3": enums.KMIPVersion.KMIP_1_3,
    "1.4": enums.KMIPVersion.KMIP_1_4,
    "2.0": enums.KMIPVersion.KMIP_2_0,
}


def certificate(tag):
    key = rsa.generate_private_key(65537, 2048)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PyKMIP Interop"), x509.NameAttribute(NameOID.COMMON_NAME, "attrs-" + tag)])
    now = datetime.datetime(2025, 6, 1, tzinfo=datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def main():
    ap = argparse.ArgumentParser()
    for a in ("--host", "--cert", "--key", "--ca", "--tag", "--config-file"):
        ap.add_argument(a, required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--version", required=True, choices=sorted(VERSIONS))
    args = ap.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)

    client = pie_client.ProxyKmipClient(
        hostname=args.host,
        port=args.port,
        cert=args.cert,
        key=args.key,
        ca=args.ca,
        ssl_version="PROTOCOL_SSLv23",
        config="client",
        config_file=args.config_file,
        kmip_version=VERSIONS[args.version],
    )
    client.open()
    tag = args.tag
    uids = {}
    uids["symmetric_key"] = client.create(enums.CryptographicAlgorithm.AES, 256, name=tag + "-aes")
    client.activate(uids["symmetric_key"])
    uids["revoked_key"] = client.create(enums.CryptographicAlgorithm.AES, 128)
    client.activate(uids["revoked_key"])
    client.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, uids["revoked_key"])
    uids["public_key"], uids["private_key"] = client.create_key_pair(enums.CryptographicAlgorithm.RSA, 2048)
    uids["certificate"] = client.register(pobjects.X509Certificate(certificate(tag), name=tag + "-cert"))
    uids["secret_data"] = client.register(pobjects.SecretData(b"correct horse battery", enums.SecretDataType.PASSWORD, name=tag + "-secret"))

    out = {}
    for kind, uid in uids.items():
        entry = {"uid": uid}
        try:
            got_uid, attrs = client.get_attributes(uid)
            entry["all"] = {"ok": True, "uid": got_uid, "names": [a.attribute_name.value for a in attrs]}
        except Exception as e:  # noqa: BLE001 - reported, named by object
            entry["all"] = {"ok": False, "error": {"type": type(e).__name__, "message": str(e), "trace": traceback.format_exc(limit=3)}}
        entry["list"] = sorted(client.get_attribute_list(uid))
        out[kind] = entry
    client.close()
    print(json.dumps({"pykmip": kmip.__version__, "kmipVersion": args.version, "objects": out}))


if __name__ == "__main__":
    main()
