#!/usr/bin/python3
"""Certificates through PyKMIP 0.10's own client (kmip.pie.client.ProxyKmipClient).

Used by test/interop/pykmip-certificates.test.ts (kept apart from pykmip_client.py). Makes an
X.509 chain with `cryptography` (an EC P-256 CA signing an RSA-2048 leaf with subjectAltNames),
registers the leaf, gets it back and compares it with what was registered — byte for byte and as
`cryptography` reads it — then reads the certificate's attributes through PyKMIP, and destroys it.

usage: pykmip_certificates.py --host H --port P --cert C --key K --ca CA --version 1.2|1.4|2.0
                              --tag UNIQUE --config-file EMPTY_FILE

stdout: JSON {"pykmip", "kmipVersion", "expected": {...}, "steps": [{"step", "ok", "value"|"error"}]}
"""
import argparse
import datetime
import ipaddress
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
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

VERSIONS = {"1.2": enums.KMIPVersion.KMIP_1_2, "1.4": enums.KMIPVersion.KMIP_1_4, "2.0": enums.KMIPVersion.KMIP_2_0}


def make_chain(tag):
    ca_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = rsa.generate_private_key(65537, 2048)
    now = datetime.datetime(2025, 6, 1, tzinfo=datetime.timezone.utc)
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PyKMIP Interop"), x509.NameAttribute(NameOID.COMMON_NAME, "Interop CA")])
    leaf_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PyKMIP Interop"), x509.NameAttribute(NameOID.COMMON_NAME, "leaf-" + tag)])
    leaf = (
        x509.CertificateBuilder()
        .subject_name(leaf_name)
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("interop.example"), x509.IPAddress(ipaddress.ip_address("10.1.2.3"))]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return leaf.public_bytes(serialization.Encoding.DER)


def facts(der):
    c = x509.load_der_x509_certificate(der)
    return {
        "subject": c.subject.rfc4514_string(),
        "issuer": c.issuer.rfc4514_string(),
        "serial": format(c.serial_number, "x"),
        "sha256": c.fingerprint(hashes.SHA256()).hex(),
        "keyBits": c.public_key().key_size,
        "length": len(der),
    }


def plain(value):
    if hasattr(value, "digest_value") and hasattr(value, "hashing_algorithm"):
        return {"hashingAlgorithm": plain(value.hashing_algorithm), "digestValue": plain(value.digest_value)}
    if isinstance(value, (bytes, bytearray)):
        return {"hex": bytes(value).hex()}
    if isinstance(value, enums.enum.Enum):
        return value.name
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "value") and not isinstance(value, (str, int, bool)):
        return plain(value.value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def error_view(e):
    view = {"type": type(e).__name__, "message": str(e)}
    for k in ("status", "reason"):
        v = getattr(e, k, None)
        if v is not None:
            view[k] = v.name if hasattr(v, "name") else str(v)
    return view


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
    steps = []
    ids = {}
    der = make_chain(args.tag)

    def step(name, fn):
        try:
            steps.append({"step": name, "ok": True, "value": fn()})
        except Exception as e:  # noqa: BLE001 - every failure is reported, named by step
            err = error_view(e)
            err["trace"] = traceback.format_exc(limit=4)
            # Where it was raised: PyKMIP's own decoder, or elsewhere.
            err["raisedIn"] = traceback.extract_tb(e.__traceback__)[-1].filename
            steps.append({"step": name, "ok": False, "error": err})

    step("open", lambda: client.open() or True)

    def register():
        ids["cert"] = client.register(pobjects.X509Certificate(der, name=args.tag + "-certificate"))
        return ids["cert"]

    step("register", register)

    def get():
        obj = client.get(ids["cert"])
        got = bytes(obj.value)
        return {"objectType": obj.object_type.name, "certificateType": obj.certificate_type.name, "identical": got == der, "facts": facts(got)}

    step("get", get)

    def get_attributes(names):
        def run():
            _, attrs = client.get_attributes(ids["cert"], names)
            return [{"name": a.attribute_name.value, "value": plain(a.attribute_value)} for a in attrs]

        return run

    # PyKMIP 0.10's attribute value factory decodes these; at 2.0 it refuses Certificate Type by tag.
    named = ["Certificate Length", "Digest", "Cryptographic Algorithm", "Cryptographic Length"]
    if args.version != "2.0":
        named.insert(0, "Certificate Type")
    step("get_attributes_named", get_attributes(named))
    step("get_attributes_all", get_attributes(None))
    step("get_attribute_list", lambda: sorted(client.get_attribute_list(ids["cert"])))
    step("destroy", lambda: client.destroy(ids["cert"]) or True)
    try:
        client.close()
    except Exception:  # noqa: BLE001
        pass
    print(json.dumps({"pykmip": kmip.__version__, "kmipVersion": args.version, "expected": facts(der), "steps": steps}))


if __name__ == "__main__":
    main()
