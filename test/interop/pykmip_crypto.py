#!/usr/bin/python3
"""Drive the server's cryptography with PyKMIP 0.10's own client, checking every result with
Python's `cryptography` package (never with the server's own answers).

Used by test/interop/pykmip-crypto.test.ts. One process runs the scenario at each version given
(--versions 1.4,2.0), one client connection per version, so the test file starts Python once.
Every step runs even when an earlier one failed (a step whose inputs are missing fails with
"SkippedInput").

usage: pykmip_crypto.py --host H --port P --cert C --key K --ca CA --versions 1.4,2.0
                        --tag UNIQUE --config-file EMPTY_FILE

stdout: JSON {"pykmip": version, "runs": {"1.4": {"ids": {...}, "steps": [
          {"step": name, "ok": true, "value": ...}
        | {"step": name, "ok": false, "error": {"type", "status", "reason", "message"}}]}, ...}}

Where PyKMIP 0.10's ProxyKmipClient has no parameter for something (AES-GCM's Additional Data
and Tag; a Cryptographic Parameters attribute on Register), the step builds PyKMIP's own request
payload and sends it through the same client's proxy (KMIPProxy.send_request_payload / register).
"""
import argparse
import hashlib
import hmac
import json
import logging
import os
import sys
import traceback

import kmip
from kmip.core import enums
from kmip.core import objects as cobjects
from kmip.core.attributes import CryptographicParameters
from kmip.core.factories.attributes import AttributeFactory

from kmip.core.messages import payloads
from kmip.pie import client as pie_client
from kmip.pie import objects as pobjects

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac as chmac, serialization
from cryptography.hazmat.primitives import padding as sympadding
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap

VERSIONS = {
    "1.4": enums.KMIPVersion.KMIP_1_4,
    "2.0": enums.KMIPVersion.KMIP_2_0,
}
M = enums.CryptographicUsageMask
attribute_factory = AttributeFactory()


class SkippedInput(Exception):
    """A step's input (an earlier step's result) is missing."""


def error_view(e):
    view = {"type": type(e).__name__, "message": str(e)}
    for field in ("status", "reason"):
        v = getattr(e, field, None)
        if v is not None:
            view[field] = v.name if hasattr(v, "name") else str(v)
    return view


def load_public(der):
    """A public key from DER: SubjectPublicKeyInfo, else PKCS#1 RSAPublicKey."""
    try:
        return serialization.load_der_public_key(der)
    except ValueError:
        pem = b"-----BEGIN RSA PUBLIC KEY-----\n" + __import__("base64").encodebytes(der) + b"-----END RSA PUBLIC KEY-----\n"
        return serialization.load_pem_public_key(pem)


def load_private(der, fmt):
    if fmt == enums.KeyFormatType.PKCS_1:
        pem = b"-----BEGIN RSA PRIVATE KEY-----\n" + __import__("base64").encodebytes(der) + b"-----END RSA PRIVATE KEY-----\n"
        return serialization.load_pem_private_key(pem, password=None)
    return serialization.load_der_private_key(der, password=None)


def scenario(args, version_name, tag):
    steps = []
    ids = {}
    keys = {}
    client = pie_client.ProxyKmipClient(
        hostname=args.host,
        port=args.port,
        cert=args.cert,
        key=args.key,
        ca=args.ca,
        ssl_version="PROTOCOL_SSLv23",
        config="client",
        config_file=args.config_file,
        kmip_version=VERSIONS[version_name],
    )

    def step(name, fn):
        try:
            value = fn()
            steps.append({"step": name, "ok": True, "value": value})
        except SkippedInput as e:
            steps.append({"step": name, "ok": False, "error": {"type": "SkippedInput", "message": str(e)}})
        except Exception as e:  # noqa: BLE001 - every failure is reported, named by step
            err = error_view(e)
            err["trace"] = traceback.format_exc(limit=4)
            steps.append({"step": name, "ok": False, "error": err})

    def need(key):
        if key not in ids:
            raise SkippedInput("no %s from an earlier step" % key)
        return ids[key]

    def register(obj, activate=True):
        uid = client.register(obj)
        if activate:
            client.activate(uid)
        return uid

    message = b"PyKMIP interop message " + tag.encode()

    step("open", lambda: client.open() or True)

    # --- Create Key Pair (RSA), Sign / Signature Verify ---------------------------------------
    def create_rsa():
        pub, priv = client.create_key_pair(
            enums.CryptographicAlgorithm.RSA, 2048, public_usage_mask=[M.VERIFY], private_usage_mask=[M.SIGN]
        )
        client.activate(pub)
        client.activate(priv)
        ids["rsa_public"], ids["rsa_private"] = pub, priv
        got = client.get(pub)
        key = load_public(got.value)
        keys["rsa_public"] = key
        got_priv = client.get(priv)
        keys["rsa_private"] = load_private(got_priv.value, got_priv.key_format_type)
        same = keys["rsa_private"].public_key().public_numbers() == key.public_numbers()
        return {"bits": key.key_size, "publicFormat": got.key_format_type.name, "privateFormat": got_priv.key_format_type.name, "pairMatches": same}

    step("create_key_pair_rsa", create_rsa)

    def sign_rsa(pad_name):
        def run():
            priv = need("rsa_private")
            if pad_name == "PSS":
                params = {"padding_method": enums.PaddingMethod.PSS, "hashing_algorithm": enums.HashingAlgorithm.SHA_256, "cryptographic_algorithm": enums.CryptographicAlgorithm.RSA}
                pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
            else:
                params = {"padding_method": enums.PaddingMethod.PKCS1v15, "hashing_algorithm": enums.HashingAlgorithm.SHA_256, "cryptographic_algorithm": enums.CryptographicAlgorithm.RSA}
                pad = padding.PKCS1v15()
            sig = client.sign(message, uid=priv, cryptographic_parameters=params)
            pub = keys["rsa_public"]
            pub.verify(sig, message, pad, hashes.SHA256())  # raises InvalidSignature if wrong
            try:
                pub.verify(sig, message + b"!", pad, hashes.SHA256())
                other_verifies = True
            except InvalidSignature:
                other_verifies = False
            ids["sig_" + pad_name] = sig.hex()
            return {"verifiedByCryptography": True, "otherMessageVerifies": other_verifies, "bytes": len(sig)}

        return run

    step("sign_rsa_pss", sign_rsa("PSS"))
    step("sign_rsa_pkcs1v15", sign_rsa("PKCS1v15"))

    def verify_on_server():
        pub = need("rsa_public")
        params = {"padding_method": enums.PaddingMethod.PKCS1v15, "hashing_algorithm": enums.HashingAlgorithm.SHA_256, "cryptographic_algorithm": enums.CryptographicAlgorithm.RSA}
        # A signature made here, with the private key fetched by Get, verified by the server.
        local = keys["rsa_private"].sign(message, padding.PKCS1v15(), hashes.SHA256())
        good = client.signature_verify(message, local, uid=pub, cryptographic_parameters=params)
        bad = client.signature_verify(message + b"!", local, uid=pub, cryptographic_parameters=params)
        return {"valid": good.name, "tampered": bad.name}

    step("signature_verify_rsa", verify_on_server)

    # --- Create Key Pair (EC P-256), ECDSA ----------------------------------------------------
    def create_ec():
        pub, priv = client.create_key_pair(
            enums.CryptographicAlgorithm.EC, 256, public_usage_mask=[M.VERIFY], private_usage_mask=[M.SIGN]
        )
        client.activate(pub)
        client.activate(priv)
        ids["ec_public"], ids["ec_private"] = pub, priv
        key = load_public(client.get(pub).value)
        keys["ec_public"] = key
        sig = client.sign(message, uid=priv, cryptographic_parameters={"digital_signature_algorithm": enums.DigitalSignatureAlgorithm.ECDSA_WITH_SHA256})
        key.verify(sig, message, ec.ECDSA(hashes.SHA256()))
        return {"curve": key.curve.name, "ecdsaVerifiedByCryptography": True}

    step("create_key_pair_ec", create_ec)

    # --- Register PKCS#1 / PKCS#8 private keys, Get them back, use them ------------------------
    local_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for fmt_name, fmt, private_format in (
        ("pkcs1", enums.KeyFormatType.PKCS_1, serialization.PrivateFormat.TraditionalOpenSSL),
        ("pkcs8", enums.KeyFormatType.PKCS_8, serialization.PrivateFormat.PKCS8),
    ):
        def reg(fmt_name=fmt_name, fmt=fmt, private_format=private_format):
            der = local_rsa.private_bytes(serialization.Encoding.DER, private_format, serialization.NoEncryption())
            uid = register(pobjects.PrivateKey(enums.CryptographicAlgorithm.RSA, 2048, der, fmt, masks=[M.SIGN], name=tag + "-" + fmt_name))
            ids[fmt_name] = uid
            got = client.get(uid)
            sig = client.sign(message, uid=uid, cryptographic_parameters={"padding_method": enums.PaddingMethod.PKCS1v15, "hashing_algorithm": enums.HashingAlgorithm.SHA_256})
            local_rsa.public_key().verify(sig, message, padding.PKCS1v15(), hashes.SHA256())
            return {"equal": bytes(got.value) == der, "format": got.key_format_type.name, "signatureVerified": True}

        step("register_" + fmt_name, reg)

    # --- Get with a Key Wrapping Specification (AES Key Wrap, RFC 3394) ------------------------
    kek_bytes = os.urandom(32)
    target_bytes = os.urandom(32)

    def register_kek(masks, with_params):
        """Through the proxy: the pie client's register cannot carry a Cryptographic Parameters attribute."""
        attrs = [attribute_factory.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_USAGE_MASK, masks)]
        if with_params:
            attrs.append(attribute_factory.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_PARAMETERS, {"block_cipher_mode": enums.BlockCipherMode.NIST_KEY_WRAP}))
        secret = client.object_factory.convert(pobjects.SymmetricKey(enums.CryptographicAlgorithm.AES, 256, kek_bytes))
        result = client.proxy.register(enums.ObjectType.SYMMETRIC_KEY, cobjects.TemplateAttribute(attributes=attrs), secret)
        if result.result_status.value != enums.ResultStatus.SUCCESS:
            raise RuntimeError("register KEK: %s %s" % (result.result_reason.value, result.result_message.value))
        uid = result.uuid
        client.activate(uid)
        return uid

    def setup_wrap():
        ids["kek"] = register_kek([M.WRAP_KEY, M.UNWRAP_KEY], True)
        ids["kek_no_wrap"] = register_kek([M.ENCRYPT], True)
        ids["wrap_target"] = register(pobjects.SymmetricKey(enums.CryptographicAlgorithm.AES, 256, target_bytes, masks=[M.ENCRYPT, M.DECRYPT], name=tag + "-wrap-target"), activate=False)
        return True

    step("register_kek", setup_wrap)

    def get_wrapped(kek_key, with_params):
        def run():
            info = {"unique_identifier": need(kek_key)}
            if with_params:
                info["cryptographic_parameters"] = {"block_cipher_mode": enums.BlockCipherMode.NIST_KEY_WRAP}
            got = client.get(
                need("wrap_target"),
                key_wrapping_specification={
                    "wrapping_method": enums.WrappingMethod.ENCRYPT,
                    "encryption_key_information": info,
                    "encoding_option": enums.EncodingOption.NO_ENCODING,
                },
            )
            wrapped = bytes(got.value)
            kwd = got.key_wrapping_data or {}
            eki = kwd.get("encryption_key_information") or {}
            return {
                "unwrapsToTheKey": aes_key_unwrap(kek_bytes, wrapped) == target_bytes,
                "wrappedBytes": len(wrapped),
                "wrappingMethod": getattr(kwd.get("wrapping_method"), "name", None),
                "kek": eki.get("unique_identifier"),
            }

        return run

    step("get_wrapped", get_wrapped("kek", True))
    step("get_wrapped_key_params", get_wrapped("kek", False))
    step("get_wrapped_no_wrap_key_bit", get_wrapped("kek_no_wrap", True))

    # --- Register a key wrapped here (cryptography's aes_key_wrap) under the KEK ------------------
    def register_wrapped():
        from cryptography.hazmat.primitives.keywrap import aes_key_wrap

        plain_key = os.urandom(32)
        wrapped = aes_key_wrap(kek_bytes, plain_key)
        kwd = {
            "wrapping_method": enums.WrappingMethod.ENCRYPT,
            "encryption_key_information": {
                "unique_identifier": need("kek"),
                "cryptographic_parameters": {"block_cipher_mode": enums.BlockCipherMode.NIST_KEY_WRAP},
            },
            "encoding_option": enums.EncodingOption.NO_ENCODING,
        }
        uid = register(pobjects.SymmetricKey(enums.CryptographicAlgorithm.AES, 256, wrapped, masks=[M.ENCRYPT, M.DECRYPT], name=tag + "-registered-wrapped", key_wrapping_data=kwd))
        # The server unwrapped it: what it encrypts, cryptography decrypts with the plain key.
        iv = os.urandom(16)
        ct, _ = client.encrypt(message, uid=uid, cryptographic_parameters={"block_cipher_mode": enums.BlockCipherMode.CBC, "padding_method": enums.PaddingMethod.PKCS5}, iv_counter_nonce=iv)
        d = Cipher(algorithms.AES(plain_key), modes.CBC(iv)).decryptor()
        unpadder = sympadding.PKCS7(128).unpadder()
        local = unpadder.update(d.update(ct) + d.finalize()) + unpadder.finalize()
        got = client.get(uid)  # no Key Wrap Type: as registered
        return {"usableAfterUnwrap": local == message, "getGivesRegisteredBytes": bytes(got.value) == wrapped, "wrapped": got.key_wrapping_data is not None}

    step("register_wrapped", register_wrapped)

    # --- Encrypt / Decrypt: AES-CBC with PKCS#5 padding ----------------------------------------
    aes_bytes = os.urandom(32)

    def setup_aes():
        ids["aes"] = register(pobjects.SymmetricKey(enums.CryptographicAlgorithm.AES, 256, aes_bytes, masks=[M.ENCRYPT, M.DECRYPT], name=tag + "-aes"))
        return True

    step("register_aes", setup_aes)
    plaintext = b"forty-one bytes of plaintext for AES-CBC!" + tag.encode()

    def cbc():
        uid = need("aes")
        params = {"cryptographic_algorithm": enums.CryptographicAlgorithm.AES, "block_cipher_mode": enums.BlockCipherMode.CBC, "padding_method": enums.PaddingMethod.PKCS5, "random_iv": True}
        ct, iv = client.encrypt(plaintext, uid=uid, cryptographic_parameters=params)
        d = Cipher(algorithms.AES(aes_bytes), modes.CBC(iv)).decryptor()
        unpadder = sympadding.PKCS7(128).unpadder()
        local_plain = unpadder.update(d.update(ct) + d.finalize()) + unpadder.finalize()
        # The other way: encrypted here, decrypted by the server.
        iv2 = os.urandom(16)
        padder = sympadding.PKCS7(128).padder()
        e = Cipher(algorithms.AES(aes_bytes), modes.CBC(iv2)).encryptor()
        local_ct = e.update(padder.update(plaintext) + padder.finalize()) + e.finalize()
        server_plain = client.decrypt(local_ct, uid=uid, cryptographic_parameters={k: v for k, v in params.items() if k != "random_iv"}, iv_counter_nonce=iv2)
        return {"ivBytes": len(iv), "decryptedByCryptography": local_plain == plaintext, "serverDecrypts": server_plain == plaintext, "ciphertextBytes": len(ct)}

    step("encrypt_decrypt_cbc", cbc)

    def gcm():
        """ProxyKmipClient.encrypt/decrypt have no Additional Data or Tag: PyKMIP's payloads, sent by its proxy."""
        uid = need("aes")
        iv = os.urandom(12)
        aad = b"header " + tag.encode()
        params = CryptographicParameters(cryptographic_algorithm=enums.CryptographicAlgorithm.AES, block_cipher_mode=enums.BlockCipherMode.GCM, tag_length=16)
        res = client.proxy.send_request_payload(
            enums.Operation.ENCRYPT,
            payloads.EncryptRequestPayload(unique_identifier=uid, cryptographic_parameters=params, data=plaintext, iv_counter_nonce=iv, auth_additional_data=aad),
        )
        local = AESGCM(aes_bytes).decrypt(iv, res.data + res.auth_tag, aad)
        local_ct = AESGCM(aes_bytes).encrypt(iv, plaintext, aad)
        dec = client.proxy.send_request_payload(
            enums.Operation.DECRYPT,
            payloads.DecryptRequestPayload(unique_identifier=uid, cryptographic_parameters=params, data=local_ct[:-16], iv_counter_nonce=iv, auth_additional_data=aad, auth_tag=local_ct[-16:]),
        )
        try:
            bad_tag = bytes([local_ct[-1] ^ 1])
            client.proxy.send_request_payload(
                enums.Operation.DECRYPT,
                payloads.DecryptRequestPayload(unique_identifier=uid, cryptographic_parameters=params, data=local_ct[:-16], iv_counter_nonce=iv, auth_additional_data=aad, auth_tag=local_ct[-16:-1] + bad_tag),
            )
            tampered = "accepted"
        except Exception as e:  # noqa: BLE001
            tampered = error_view(e).get("reason", type(e).__name__)
        return {"decryptedByCryptography": local == plaintext, "tagBytes": len(res.auth_tag), "serverDecrypts": dec.data == plaintext, "tamperedTag": tampered}

    step("encrypt_decrypt_gcm", gcm)

    # --- MAC (HMAC-SHA256) ---------------------------------------------------------------------
    mac_key = os.urandom(32)

    def mac():
        uid = register(pobjects.SymmetricKey(enums.CryptographicAlgorithm.HMAC_SHA256, 256, mac_key, masks=[M.MAC_GENERATE], name=tag + "-mac"))
        _, value = client.mac(message, uid=uid, algorithm=enums.CryptographicAlgorithm.HMAC_SHA256)
        h = chmac.HMAC(mac_key, hashes.SHA256())
        h.update(message)
        h.verify(bytes(value))  # raises if different
        return {"verifiedByCryptography": True, "bytes": len(value)}

    step("mac_hmac_sha256", mac)

    # --- Derive Key: PBKDF2 and HMAC ------------------------------------------------------------
    password = b"correct horse battery staple"
    salt = b"pykmip-salt-" + tag.encode()

    def derived_bytes(uid):
        return bytes(client.get(uid).value)

    def pbkdf2():
        base = register(pobjects.SecretData(password, enums.SecretDataType.PASSWORD, masks=[M.DERIVE_KEY], name=tag + "-password"))
        uid = client.derive_key(
            enums.ObjectType.SYMMETRIC_KEY,
            [base],
            enums.DerivationMethod.PBKDF2,
            {"cryptographic_parameters": {"hashing_algorithm": enums.HashingAlgorithm.SHA_256}, "salt": salt, "iteration_count": 1000},
            cryptographic_length=256,
            cryptographic_algorithm=enums.CryptographicAlgorithm.AES,
        )
        want = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=1000).derive(password)
        return {"equalToCryptography": derived_bytes(uid) == want}

    step("derive_key_pbkdf2", pbkdf2)

    def hmac_derivation():
        base_key = os.urandom(32)
        base = register(pobjects.SymmetricKey(enums.CryptographicAlgorithm.HMAC_SHA256, 256, base_key, masks=[M.DERIVE_KEY], name=tag + "-hmac-base"))
        data = b"derivation data " + tag.encode()
        uid = client.derive_key(
            enums.ObjectType.SYMMETRIC_KEY,
            [base],
            enums.DerivationMethod.HMAC,
            {"derivation_data": data},
            cryptographic_length=128,
            cryptographic_algorithm=enums.CryptographicAlgorithm.AES,
        )
        want = hmac.new(base_key, data, hashlib.sha256).digest()[:16]
        return {"equalToCryptography": derived_bytes(uid) == want}

    step("derive_key_hmac", hmac_derivation)

    # --- Re-key ---------------------------------------------------------------------------------
    def rekey():
        old = client.create(enums.CryptographicAlgorithm.AES, 256, cryptographic_usage_mask=[M.ENCRYPT, M.DECRYPT])
        new = client.rekey(uid=old)
        a, b = client.get(old), client.get(new)
        return {
            "newUid": new != old,
            "differentBytes": bytes(a.value) != bytes(b.value),
            "length": b.cryptographic_length,
            "algorithm": b.cryptographic_algorithm.name,
            "old": old,
            "new": new,
        }

    step("rekey", rekey)

    step("close", lambda: client.close() or True)
    return {"ids": ids, "steps": steps}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--versions", required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--config-file", required=True)
    args = ap.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    runs = {}
    for v in args.versions.split(","):
        runs[v] = scenario(args, v, "%s-%s" % (args.tag, v))
    print(json.dumps({"pykmip": kmip.__version__, "runs": runs}))


if __name__ == "__main__":
    main()
