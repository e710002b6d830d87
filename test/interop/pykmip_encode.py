#!/usr/bin/python3
"""Encode real KMIP requests and responses with PyKMIP's own message classes.

Used by test/interop/pykmip-codec.test.ts as an independent encoder: the TypeScript test
decodes every message with our codec, checks facts it fed in, and re-encodes byte for byte.

stdin:  JSON {"symmetricKey": hex, "rsaPkcs1": hex, "rsaPkcs8": hex, "certificate": hex,
              "timeStamp": int}
stdout: JSON {"pykmip": version, "messages": {name: hex}, "notes": {name: text}}

Message names are "<what>@<major>.<minor>". Every message is built from PyKMIP objects
(kmip.core.messages, payloads, objects, the attribute and secret factories); nothing is hand-encoded.
"""
import json
import sys

import kmip
from kmip.core import attributes, enums, objects, utils
from kmip.core.factories.secrets import SecretFactory
from kmip.core.factories.attributes import AttributeFactory
from kmip.core.messages import contents, messages, payloads

VERSIONS = {
    "1.2": (1, 2, enums.KMIPVersion.KMIP_1_2),
    "2.0": (2, 0, enums.KMIPVersion.KMIP_2_0),
}

attribute_factory = AttributeFactory()
secret_factory = SecretFactory()


def attr(name, value):
    return attribute_factory.create_attribute(name, value)


def encode_request(version, batch):
    """batch: list of (Operation enum, payload, unique batch item id bytes or None)."""
    major, minor, kmip_version = VERSIONS[version]
    header = messages.RequestHeader(
        protocol_version=contents.ProtocolVersion(major, minor),
        batch_count=contents.BatchCount(len(batch)),
    )
    items = [
        messages.RequestBatchItem(
            operation=contents.Operation(op),
            unique_batch_item_id=(
                contents.UniqueBatchItemID(uid) if uid is not None else None
            ),
            request_payload=payload,
        )
        for op, payload, uid in batch
    ]
    message = messages.RequestMessage(request_header=header, batch_items=items)
    stream = utils.BytearrayStream()
    message.write(stream, kmip_version=kmip_version)
    return stream.buffer.hex()


def encode_response(version, time_stamp, batch):
    """batch: list of (Operation enum, payload, unique batch item id bytes or None)."""
    major, minor, kmip_version = VERSIONS[version]
    header = messages.ResponseHeader(
        protocol_version=contents.ProtocolVersion(major, minor),
        time_stamp=contents.TimeStamp(time_stamp),
        batch_count=contents.BatchCount(len(batch)),
    )
    items = [
        messages.ResponseBatchItem(
            operation=contents.Operation(op),
            unique_batch_item_id=(
                contents.UniqueBatchItemID(uid) if uid is not None else None
            ),
            result_status=contents.ResultStatus(enums.ResultStatus.SUCCESS),
            response_payload=payload,
        )
        for op, payload, uid in batch
    ]
    message = messages.ResponseMessage(response_header=header, batch_items=items)
    stream = utils.BytearrayStream()
    message.write(stream, kmip_version=kmip_version)
    return stream.buffer.hex()


def key_template():
    # Built fresh per message: PyKMIP's 2.0 conversion re-tags the attribute values in place.
    return objects.TemplateAttribute(
        attributes=[
            attr(enums.AttributeType.CRYPTOGRAPHIC_ALGORITHM, enums.CryptographicAlgorithm.AES),
            attr(enums.AttributeType.CRYPTOGRAPHIC_LENGTH, 256),
            attr(
                enums.AttributeType.CRYPTOGRAPHIC_USAGE_MASK,
                [enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT],
            ),
            attr(enums.AttributeType.NAME, "interop-key-1"),
        ]
    )


def main():
    inputs = json.load(sys.stdin)
    sym_key = bytes.fromhex(inputs["symmetricKey"])
    rsa_pkcs1 = bytes.fromhex(inputs["rsaPkcs1"])
    rsa_pkcs8 = bytes.fromhex(inputs["rsaPkcs8"])
    cert_der = bytes.fromhex(inputs["certificate"])
    time_stamp = int(inputs["timeStamp"])

    out = {}
    notes = {}
    for v in VERSIONS:
        # Create (symmetric key, AES-256, Encrypt|Decrypt, Name): 1.x Template-Attribute,
        # 2.0 Attributes (PyKMIP converts when writing at 2.0).
        out["create-request@" + v] = encode_request(
            v,
            [(
                enums.Operation.CREATE,
                payloads.CreateRequestPayload(
                    object_type=enums.ObjectType.SYMMETRIC_KEY,
                    template_attribute=key_template(),
                ),
                b"\x01",
            )],
        )
        out["create-response@" + v] = encode_response(
            v,
            time_stamp,
            [(
                enums.Operation.CREATE,
                payloads.CreateResponsePayload(
                    object_type=enums.ObjectType.SYMMETRIC_KEY,
                    unique_identifier="uid-sym-1",
                ),
                b"\x01",
            )],
        )

        out["get-request@" + v] = encode_request(
            v,
            [(
                enums.Operation.GET,
                payloads.GetRequestPayload(
                    unique_identifier="uid-sym-1",
                    key_format_type=enums.KeyFormatType.RAW,
                ),
                None,
            )],
        )
        out["get-response-symmetric@" + v] = encode_response(
            v,
            time_stamp,
            [(
                enums.Operation.GET,
                payloads.GetResponsePayload(
                    object_type=enums.ObjectType.SYMMETRIC_KEY,
                    unique_identifier="uid-sym-1",
                    secret=secret_factory.create(
                        enums.ObjectType.SYMMETRIC_KEY,
                        {
                            "key_format_type": enums.KeyFormatType.RAW,
                            "key_value": sym_key,
                            "cryptographic_algorithm": enums.CryptographicAlgorithm.AES,
                            "cryptographic_length": len(sym_key) * 8,
                        },
                    ),
                ),
                None,
            )],
        )
        for fmt, der, kft in (
            ("pkcs1", rsa_pkcs1, enums.KeyFormatType.PKCS_1),
            ("pkcs8", rsa_pkcs8, enums.KeyFormatType.PKCS_8),
        ):
            out["get-response-rsa-" + fmt + "@" + v] = encode_response(
                v,
                time_stamp,
                [(
                    enums.Operation.GET,
                    payloads.GetResponsePayload(
                        object_type=enums.ObjectType.PRIVATE_KEY,
                        unique_identifier="uid-rsa-1",
                        secret=secret_factory.create(
                            enums.ObjectType.PRIVATE_KEY,
                            {
                                "key_format_type": kft,
                                "key_value": der,
                                "cryptographic_algorithm": enums.CryptographicAlgorithm.RSA,
                                "cryptographic_length": 2048,
                            },
                        ),
                    ),
                    None,
                )],
            )

        # Locate by Object Type + Name: 1.x lists Attribute structures, 2.0 one Attributes.
        out["locate-request@" + v] = encode_request(
            v,
            [(
                enums.Operation.LOCATE,
                payloads.LocateRequestPayload(
                    maximum_items=10,
                    attributes=[
                        attr(enums.AttributeType.OBJECT_TYPE, enums.ObjectType.SYMMETRIC_KEY),
                        attr(enums.AttributeType.NAME, "interop-key-1"),
                    ],
                ),
                None,
            )],
        )
        out["locate-response@" + v] = encode_response(
            v,
            time_stamp,
            [(
                enums.Operation.LOCATE,
                payloads.LocateResponsePayload(
                    located_items=2,
                    unique_identifiers=["uid-sym-1", "uid-sym-2"],
                ),
                None,
            )],
        )

        # Register an X.509 certificate (DER) with a Name.
        out["register-certificate-request@" + v] = encode_request(
            v,
            [(
                enums.Operation.REGISTER,
                payloads.RegisterRequestPayload(
                    object_type=enums.ObjectType.CERTIFICATE,
                    template_attribute=objects.TemplateAttribute(
                        attributes=[
                            attr(
                                enums.AttributeType.CRYPTOGRAPHIC_USAGE_MASK,
                                [enums.CryptographicUsageMask.VERIFY],
                            ),
                            attr(enums.AttributeType.NAME, "interop-cert-1"),
                        ]
                    ),
                    managed_object=secret_factory.create(
                        enums.ObjectType.CERTIFICATE,
                        {
                            "certificate_type": enums.CertificateType.X_509,
                            "certificate_value": cert_der,
                        },
                    ),
                ),
                None,
            )],
        )
        out["register-response@" + v] = encode_response(
            v,
            time_stamp,
            [(
                enums.Operation.REGISTER,
                payloads.RegisterResponsePayload(unique_identifier="uid-cert-1"),
                None,
            )],
        )

        out["query-request@" + v] = encode_request(
            v,
            [(
                enums.Operation.QUERY,
                payloads.QueryRequestPayload(
                    query_functions=[
                        enums.QueryFunction.QUERY_OPERATIONS,
                        enums.QueryFunction.QUERY_OBJECTS,
                        enums.QueryFunction.QUERY_SERVER_INFORMATION,
                    ]
                ),
                None,
            )],
        )
        out["query-response@" + v] = encode_response(
            v,
            time_stamp,
            [(
                enums.Operation.QUERY,
                payloads.QueryResponsePayload(
                    operations=[
                        enums.Operation.CREATE,
                        enums.Operation.GET,
                        enums.Operation.LOCATE,
                        enums.Operation.DESTROY,
                        enums.Operation.QUERY,
                    ],
                    object_types=[
                        enums.ObjectType.SYMMETRIC_KEY,
                        enums.ObjectType.CERTIFICATE,
                    ],
                    vendor_identification="PyKMIP interop vendor",
                ),
                None,
            )],
        )

        # A batch of two items in one request: Get then Destroy.
        out["batch-get-destroy-request@" + v] = encode_request(
            v,
            [
                (enums.Operation.GET, payloads.GetRequestPayload(unique_identifier="uid-sym-1"), b"\x0a"),
                (enums.Operation.DESTROY, payloads.DestroyRequestPayload(unique_identifier=attributes.UniqueIdentifier("uid-sym-1")), b"\x0b"),
            ],
        )

    notes["get-response"] = (
        "KMIP 2.0 does not change the Get payload; PyKMIP writes the same Key Block under a 2.0 header."
    )
    notes["query-response"] = (
        "PyKMIP 0.10 writes 2.0-only Query fields (Defaults Information, Protection Storage "
        "Masks) only when set; they are not set here, so the 2.0 form differs by header only."
    )
    notes["locate-response"] = (
        "Located Items exists from KMIP 1.3; PyKMIP writes it for 1.2 anyway when set."
    )
    json.dump({"pykmip": kmip.__version__, "messages": out, "notes": notes}, sys.stdout)


if __name__ == "__main__":
    main()
