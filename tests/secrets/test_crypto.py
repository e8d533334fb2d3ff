"""The AES-256-GCM formats: a value opens only with its key, for its tenant and name; any
flipped byte, moved value or wrong key is a typed error, never a wrong plaintext."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vitco.secrets import MalformedSecret, MasterKey, MasterKeyError, SecretTampered, crypto


def _key() -> bytes:
    return crypto.new_data_key()


def test_a_sealed_value_opens_to_the_secret_and_hides_it() -> None:
    key = _key()
    sealed = crypto.seal(key, "k1", "acme", "secret/github_token", "ghp_s3cret-value")
    assert sealed.startswith("v1:k1:") and "s3cret" not in sealed
    parts = crypto.parse_sealed("acme", "secret/github_token", sealed)
    assert crypto.open_sealed(key, "acme", "secret/github_token", parts) == "ghp_s3cret-value"
    # the format is plain AES-256-GCM: the standard primitive opens it with the documented AD
    plain = AESGCM(key).decrypt(
        parts.nonce, parts.ciphertext, b"vitco/secret/v1\0acme\0secret/github_token"
    )
    assert plain == b"ghp_s3cret-value"


def test_each_seal_uses_a_fresh_nonce() -> None:
    key = _key()
    sealed = {crypto.seal(key, "k1", "acme", "n", "same") for _ in range(50)}
    assert len(sealed) == 50


def test_every_flipped_byte_fails_loudly() -> None:
    key = _key()
    sealed = crypto.seal(key, "k1", "acme", "n", "secret")
    version, key_id, nonce_b64, ct_b64 = sealed.split(":")
    for which in ("nonce", "ct"):
        raw = bytearray(crypto._unb64(nonce_b64 if which == "nonce" else ct_b64))
        for i in range(len(raw)):
            flipped = bytearray(raw)
            flipped[i] ^= 0x01
            text = crypto._b64(bytes(flipped))
            bad = ":".join(
                [version, key_id, text, ct_b64]
                if which == "nonce"
                else [version, key_id, nonce_b64, text]
            )
            with pytest.raises(SecretTampered) as raised:
                crypto.open_sealed(key, "acme", "n", crypto.parse_sealed("acme", "n", bad))
            assert (raised.value.tenant_id, raised.value.name) == ("acme", "n")


@pytest.mark.parametrize(("tenant", "name"), [("other", "n"), ("acme", "m"), ("acme", "n\0")])
def test_a_value_moved_to_another_row_does_not_open(tenant: str, name: str) -> None:
    key = _key()
    sealed = crypto.seal(key, "k1", "acme", "n", "secret")
    with pytest.raises(SecretTampered):
        crypto.open_sealed(key, tenant, name, crypto.parse_sealed(tenant, name, sealed))


def test_another_key_does_not_open_it() -> None:
    sealed = crypto.seal(_key(), "k1", "acme", "n", "secret")
    with pytest.raises(SecretTampered):
        crypto.open_sealed(_key(), "acme", "n", crypto.parse_sealed("acme", "n", sealed))


@pytest.mark.parametrize(
    "text", ["", "secret", "plain:x", "v2:k:AAAA:AAAA", "v1::AAAA:AAAA", "v1:k:AAAA", "v1:k:a:b:c"]
)
def test_malformed_values_are_named(text: str) -> None:
    with pytest.raises((MalformedSecret, SecretTampered)) as raised:
        crypto.parse_sealed("acme", "n", text)
    assert "acme" in str(raised.value) and "'n'" in str(raised.value)


def test_a_wrapped_data_key_is_bound_to_its_tenant_and_master_key() -> None:
    master, data_key = MasterKey.generate(), _key()
    wrapped = crypto.wrap_key(master, "acme", "k1", data_key)
    assert crypto.wrapped_by(wrapped) == master.id
    assert crypto.unwrap_key(master, "acme", "k1", wrapped) == data_key
    for tenant, key_id, key in (("other", "k1", master), ("acme", "k2", master),
                                ("acme", "k1", MasterKey.generate())):  # fmt: skip
        with pytest.raises(SecretTampered):
            crypto.unwrap_key(key, tenant, key_id, wrapped)
    blob = bytearray(crypto._unb64(wrapped.split(":")[2]))
    blob[-1] ^= 0x80
    with pytest.raises(SecretTampered):
        crypto.unwrap_key(master, "acme", "k1", f"v1:{master.id}:{crypto._b64(bytes(blob))}")


def test_master_keys_parse_from_base64_and_never_show() -> None:
    key = MasterKey.generate()
    assert MasterKey.parse(key.text(), "env") == key
    assert MasterKey.parse(base64.urlsafe_b64encode(key.key).decode(), "env") == key
    assert key.text() not in repr(key) and len(key.id) == 16
    for bad in ("", "not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(MasterKeyError) as raised:
            MasterKey.parse(bad, "VITCO_MASTER_KEY")
        assert raised.value.source == "VITCO_MASTER_KEY" and "base64" in raised.value.fix
