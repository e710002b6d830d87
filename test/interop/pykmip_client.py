#!/usr/bin/python3
"""Drive a KMIP server with PyKMIP 0.10's own client (kmip.pie.client.ProxyKmipClient).

Used by test/interop/pykmip-client.test.ts. Every step runs even when an earlier one failed
(a step whose inputs are missing fails with "SkippedInput"), and each step prints what the
client saw, so the TypeScript test can assert step by step and a failure names its step.

usage: pykmip_client.py --host H --port P --cert C --key K --ca CA --version 1.2|1.4|2.0
                        --tag UNIQUE --config-file EMPTY_FILE

stdout: JSON {"pykmip": version, "kmipVersion": "1.2", "steps": [
          {"step": name, "ok": true, "value": ...}
        | {"step": name, "ok": false, "error": {"type": exception class, "status": name,
                                                  "reason": name, "message": text}}]}

The client reads no configuration from /etc or ~: every setting is passed explicitly and
config_file points at an empty file given by the caller.
"""
import argparse
import datetime
import json
import logging
import os
import sys
import traceback

import kmip
from kmip.core import enums
from kmip.core import objects as cobjects
from kmip.core import primitives
from kmip.core.factories.attributes import AttributeFactory
from kmip.pie import client as pie_client
from kmip.pie import objects as pobjects

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VERSIONS = {
    "1.2": enums.KMIPVersion.KMIP_1_2,
    "1.4": enums.KMIPVersion.KMIP_1_4,
    "2.0": enums.KMIPVersion.KMIP_2_0,
}

attribute_factory = AttributeFactory()


class SkippedInput(Exception):
    """A step's input (an earlier step's result) is missing."""


def make_certificate_der(common_name):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def enum_name(value):
    return value.name if hasattr(value, "name") else value


def plain(value):
    """A JSON-friendly view of a PyKMIP primitive, structure or attribute value."""
    if isinstance(value, (bytes, bytearray)):
        return {"hex": bytes(value).hex()}
    if isinstance(value, enums.enum.Enum):
        return value.name
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, primitives.Base) and hasattr(value, "value") and not isinstance(value, primitives.Struct):
        return plain(value.value)
    if isinstance(value, cobjects.Attribute.AttributeName):
        return value.value
    if hasattr(value, "name_value") and hasattr(value, "name_type"):
        return {"name": plain(value.name_value), "type": plain(value.name_type)}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def attributes_view(attrs):
    """[Attribute] → [{"name", "index", "value"}]."""
    out = []
    for a in attrs:
        out.append(
            {
                "name": a.attribute_name.value,
                "index": a.attribute_index.value if a.attribute_index is not None else None,
                "value": plain(a.attribute_value),
            }
        )
    return out


def error_view(e):
    view = {"type": type(e).__name__, "message": str(e)}
    status = getattr(e, "status", None)
    reason = getattr(e, "reason", None)
    if status is not None:
        view["status"] = enum_name(status)
    if reason is not None:
        view["reason"] = enum_name(reason)
    return view


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--version", required=True, choices=sorted(VERSIONS))
    ap.add_argument("--tag", required=True)
    ap.add_argument("--config-file", required=True)
    args = ap.parse_args()

    # PyKMIP logs through the root logger; keep stdout for the JSON result only.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)

    version = VERSIONS[args.version]
    tag = args.tag
    steps = []
    ids = {}

    client = pie_client.ProxyKmipClient(
        hostname=args.host,
        port=args.port,
        cert=args.cert,
        key=args.key,
        ca=args.ca,
        # ssl.wrap_socket with PROTOCOL_TLS (alias SSLv23): TLS 1.2/1.3, the server certificate is
        # verified against --ca (CERT_REQUIRED) but not its host name (wrap_socket has none).
        ssl_version="PROTOCOL_SSLv23",
        config="client",
        config_file=args.config_file,
        kmip_version=version,
    )

    def step(name, fn):
        try:
            value = fn()
            steps.append({"step": name, "ok": True, "value": value})
            return value
        except SkippedInput as e:
            steps.append({"step": name, "ok": False, "error": {"type": "SkippedInput", "message": str(e)}})
        except Exception as e:  # noqa: BLE001 - every failure is reported, named by step
            err = error_view(e)
            err["trace"] = traceback.format_exc(limit=4)
            steps.append({"step": name, "ok": False, "error": err})
        return None

    def need(key):
        if key not in ids:
            raise SkippedInput("no %s from an earlier step" % key)
        return ids[key]

    def name_attr(value):
        return attribute_factory.create_attribute(enums.AttributeType.NAME, value)

    def state_of(uid):
        _, attrs = client.get_attributes(uid, ["State"])
        states = [a.attribute_value.value.name for a in attrs if a.attribute_name.value == "State"]
        return states[0] if len(states) == 1 else states

    sym_value = os.urandom(16)
    secret_value = b"correct horse battery staple " + tag.encode()
    opaque_value = b"\x00opaque\xffbytes-" + tag.encode()
    cert_der = make_certificate_der("pykmip-interop-" + tag)

    step("open", lambda: client.open() or True)

    # --- create and register -------------------------------------------------------------
    def create():
        uid = client.create(
            enums.CryptographicAlgorithm.AES,
            256,
            name=tag + "-created",
            cryptographic_usage_mask=[enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT],
        )
        ids["created"] = uid
        return uid

    step("create", create)

    def register(key, obj):
        def run():
            uid = client.register(obj)
            ids[key] = uid
            return uid

        return run

    step(
        "register_symmetric_key",
        register(
            "symmetric",
            pobjects.SymmetricKey(
                enums.CryptographicAlgorithm.AES,
                128,
                sym_value,
                masks=[enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT],
                name=tag + "-symmetric",
            ),
        ),
    )
    step(
        "register_secret_data",
        register(
            "secret",
            pobjects.SecretData(
                secret_value,
                enums.SecretDataType.PASSWORD,
                masks=[enums.CryptographicUsageMask.DERIVE_KEY],
                name=tag + "-secret",
            ),
        ),
    )
    step(
        "register_opaque_object",
        register("opaque", pobjects.OpaqueObject(opaque_value, enums.OpaqueDataType.NONE, name=tag + "-opaque")),
    )
    step(
        "register_certificate",
        register(
            "certificate",
            pobjects.X509Certificate(cert_der, masks=[enums.CryptographicUsageMask.VERIFY], name=tag + "-certificate"),
        ),
    )

    # --- get -------------------------------------------------------------------------------
    def get_created():
        obj = client.get(need("created"))
        return {
            "objectType": obj.object_type.name,
            "algorithm": obj.cryptographic_algorithm.name,
            "length": obj.cryptographic_length,
            "valueBytes": len(obj.value),
        }

    step("get_created", get_created)

    def get_value(key, expected, extra):
        def run():
            obj = client.get(need(key))
            out = {"objectType": obj.object_type.name, "equal": bytes(obj.value) == expected, "valueBytes": len(obj.value)}
            out.update(extra(obj))
            return out

        return run

    step(
        "get_symmetric_key",
        get_value("symmetric", sym_value, lambda o: {"algorithm": o.cryptographic_algorithm.name, "length": o.cryptographic_length}),
    )
    step("get_secret_data", get_value("secret", secret_value, lambda o: {"dataType": o.data_type.name}))
    step("get_opaque_object", get_value("opaque", opaque_value, lambda o: {"opaqueType": o.opaque_type.name}))
    step("get_certificate", get_value("certificate", cert_der, lambda o: {"certificateType": o.certificate_type.name}))

    # --- attributes ------------------------------------------------------------------------
    def get_attributes_all():
        uid, attrs = client.get_attributes(need("symmetric"))
        return {"uid": uid, "attributes": attributes_view(attrs)}

    step("get_attributes", get_attributes_all)

    def get_attributes_named():
        uid, attrs = client.get_attributes(need("symmetric"), ["Cryptographic Algorithm", "Cryptographic Length", "State"])
        return {"uid": uid, "attributes": attributes_view(attrs)}

    step("get_attributes_named", get_attributes_named)
    step("get_attribute_list", lambda: client.get_attribute_list(need("symmetric")))

    # --- lifecycle -------------------------------------------------------------------------
    step("state_before_activate", lambda: state_of(need("created")))
    step("activate", lambda: client.activate(need("created")) or True)
    step("state_after_activate", lambda: state_of(need("created")))
    step("activate_symmetric", lambda: client.activate(need("symmetric")) or True)

    def check():
        return client.check(
            need("created"),
            cryptographic_usage_mask=[enums.CryptographicUsageMask.ENCRYPT],
        )

    step("check", check)

    # Destroy of an Active object is refused (KMIP 1.4 §4.21 / 2.0 §6.1.15).
    step("destroy_active_refused", lambda: client.destroy(need("symmetric")) or True)

    step(
        "revoke",
        lambda: client.revoke(
            enums.RevocationReasonCode.CESSATION_OF_OPERATION, need("symmetric"), revocation_message="interop " + tag
        )
        or True,
    )
    step("state_after_revoke", lambda: state_of(need("symmetric")))

    def revoke_compromise():
        client.revoke(
            enums.RevocationReasonCode.KEY_COMPROMISE,
            need("secret"),
            compromise_occurrence_date=1_700_000_000,
        )
        return True

    step("revoke_compromise", revoke_compromise)
    step("state_after_compromise", lambda: state_of(need("secret")))

    step("destroy", lambda: client.destroy(need("symmetric")) or True)
    step("get_after_destroy", lambda: client.get(need("symmetric")) and True)

    # --- locate ----------------------------------------------------------------------------
    step("locate_by_name", lambda: client.locate(attributes=[name_attr(tag + "-opaque")]))
    step("locate_by_name_missing", lambda: client.locate(attributes=[name_attr(tag + "-no-such-name")]))
    step(
        "locate_by_object_type",
        lambda: client.locate(
            attributes=[attribute_factory.create_attribute(enums.AttributeType.OBJECT_TYPE, enums.ObjectType.OPAQUE_DATA)]
        ),
    )
    step(
        "locate_by_state",
        lambda: client.locate(attributes=[attribute_factory.create_attribute(enums.AttributeType.STATE, enums.State.ACTIVE)]),
    )
    step(
        "locate_by_state_and_name",
        lambda: client.locate(
            attributes=[
                attribute_factory.create_attribute(enums.AttributeType.STATE, enums.State.PRE_ACTIVE),
                name_attr(tag + "-certificate"),
            ]
        ),
    )
    step("locate_maximum_items", lambda: client.locate(maximum_items=1))

    # --- set / modify / delete attribute ----------------------------------------------------
    contact = attribute_factory.value_factory.create_attribute_value_by_enum

    def set_attribute():
        return client.set_attribute(
            need("opaque"), attribute_name="Contact Information", attribute_value="set@" + tag
        )

    step("set_attribute", set_attribute)

    def attribute_values(key, name):
        def run():
            _, attrs = client.get_attributes(need(key), [name])
            return [plain(a.attribute_value) for a in attrs if a.attribute_name.value == name]

        return run

    step("contact_after_set", attribute_values("opaque", "Contact Information"))

    def modify_attribute():
        if version < enums.KMIPVersion.KMIP_2_0:
            # KMIP 1.x: Attribute { Name, Index, new Value } (1.4 §4.16).
            attribute = attribute_factory.create_attribute(enums.AttributeType.NAME, tag + "-opaque-renamed", 0)
            uid, attr = client.modify_attribute(need("opaque"), attribute=attribute)
            return {"uid": uid, "attribute": attributes_view([attr]) if attr is not None else None}
        # KMIP 2.0: Current Attribute + New Attribute (2.0 §6.1.31).
        uid, attr = client.modify_attribute(
            need("opaque"),
            current_attribute=cobjects.CurrentAttribute(contact(enums.Tags.CONTACT_INFORMATION, "set@" + tag)),
            new_attribute=cobjects.NewAttribute(contact(enums.Tags.CONTACT_INFORMATION, "modified@" + tag)),
        )
        return {"uid": uid, "attribute": None}

    step("modify_attribute", modify_attribute)
    if version < enums.KMIPVersion.KMIP_2_0:
        step("locate_after_modify", lambda: client.locate(attributes=[name_attr(tag + "-opaque-renamed")]))
    else:
        step("contact_after_modify", attribute_values("opaque", "Contact Information"))

    def delete_attribute():
        if version < enums.KMIPVersion.KMIP_2_0:
            # KMIP 1.x: Attribute Name + Attribute Index (1.4 §4.16).
            uid, attr = client.delete_attribute(need("opaque"), attribute_name="Name", attribute_index=0)
            return {"uid": uid, "attribute": plain(attr)}
        # KMIP 2.0: Current Attribute (2.0 §6.1.13).
        uid, attr = client.delete_attribute(
            need("opaque"),
            current_attribute=cobjects.CurrentAttribute(contact(enums.Tags.CONTACT_INFORMATION, "modified@" + tag)),
        )
        return {"uid": uid, "attribute": None}

    step("delete_attribute", delete_attribute)
    if version < enums.KMIPVersion.KMIP_2_0:
        step("names_after_delete", attribute_values("opaque", "Name"))
    else:
        step("contact_after_delete", attribute_values("opaque", "Contact Information"))

        # PyKMIP's other 2.0 form: an Attribute Reference structure naming a standard attribute
        # with an empty Vendor Identification.
        step(
            "set_attribute_again",
            lambda: client.set_attribute(need("opaque"), attribute_name="Contact Information", attribute_value="again@" + tag),
        )

        def delete_by_reference():
            uid, _ = client.delete_attribute(
                need("opaque"),
                attribute_reference=cobjects.AttributeReference(vendor_identification="", attribute_name="Contact Information"),
            )
            return uid

        step("delete_attribute_by_reference", delete_by_reference)
        step("contact_after_delete_by_reference", attribute_values("opaque", "Contact Information"))

        # A refusal PyKMIP provokes must come back readable (PyKMIP decodes Text Strings byte by
        # byte, so a non-ASCII Result Message raises UnicodeDecodeError in the client).
        def delete_bad_vendor():
            uid, _ = client.delete_attribute(
                need("opaque"),
                attribute_reference=cobjects.AttributeReference(vendor_identification="a-b", attribute_name="Foo"),
            )
            return uid

        step("delete_attribute_bad_vendor", delete_bad_vendor)

    step("close", lambda: client.close() or True)

    print(
        json.dumps(
            {
                "pykmip": kmip.__version__,
                "kmipVersion": args.version,
                "ids": ids,
                "steps": steps,
            }
        )
    )


if __name__ == "__main__":
    main()
