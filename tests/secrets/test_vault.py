"""The vault on real SQLite and PostgreSQL: data keys per tenant wrapped by the master key,
values bound to their rows, a flipped byte in the database refused, plain values from before
encryption re-sealed, and master key rotation re-wrapping the data keys."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from vitco.secrets import MasterKey, SecretTampered, Vault, WrongMasterKey
from vitco.store import AccessStore, open_database
from vitco.store.secret_models import TenantKey, TenantSecret
from vitco.store.secrets import TenantSecrets
from vitco.store.webhook_models import HookSecret, Webhook
from vitco.store.webhooks import WebhookStore


def _sessions(url: str) -> sessionmaker[Session]:
    sessions = open_database(url)
    access = AccessStore(sessions)
    access.create_tenant("acme", "Acme")
    access.create_tenant("other", "Other")
    return sessions


def _vault(
    sessions: sessionmaker[Session], master: MasterKey, old: MasterKey | None = None
) -> Vault:
    return Vault.over(sessions, lambda: master, lambda: old)


def test_secrets_are_sealed_under_a_wrapped_data_key_per_tenant(database_url: str) -> None:
    sessions, master = _sessions(database_url), MasterKey.generate()
    named = TenantSecrets(sessions, _vault(sessions, master))
    named.set("acme", "github_token", "ghp_acme_token_1")
    named.set("other", "github_token", "ghp_other_token")
    assert named.get("acme", "github_token") == "ghp_acme_token_1"
    assert named.get("acme", "stripe_key") is None
    with sessions() as s:
        keys = {row.tenant_id: row for row in s.scalars(select(TenantKey))}
        stored = [row.value for row in s.scalars(select(TenantSecret))]
    assert set(keys) == {"acme", "other"}
    assert {row.master_id for row in keys.values()} == {master.id}
    assert all(v.startswith("v1:") and "token" not in v for v in stored)
    # a fresh vault (another process) with the same master key reads them
    assert TenantSecrets(sessions, _vault(sessions, master)).get("other", "github_token") == (
        "ghp_other_token"
    )
    # the list never carries values
    infos = named.infos("acme")
    assert [(i.kind, i.name, i.scheme) for i in infos] == [("secret", "github_token", "v1")]
    assert "ghp" not in repr(infos)


def test_a_flipped_byte_in_the_database_fails_loudly(database_url: str) -> None:
    sessions, master = _sessions(database_url), MasterKey.generate()
    named = TenantSecrets(sessions, _vault(sessions, master))
    named.set("acme", "token", "value-1")
    with sessions.begin() as s:
        row = s.get(TenantSecret, ("acme", "token"))
        assert row is not None
        head, _, last = row.value.rpartition(":")
        flipped = ("B" if last[5] == "A" else "A").join((last[:5], last[6:]))
        row.value = f"{head}:{flipped}"
    with pytest.raises(SecretTampered) as raised:
        TenantSecrets(sessions, _vault(sessions, master)).get("acme", "token")
    assert (raised.value.tenant_id, raised.value.name) == ("acme", "secret/token")


def test_a_value_copied_to_another_row_or_tenant_does_not_open(database_url: str) -> None:
    sessions, master = _sessions(database_url), MasterKey.generate()
    vault = _vault(sessions, master)
    hooks = WebhookStore(sessions, vault)
    hooks.set_secret("acme", "github", "acme-github-secret")
    hooks.set_secret("acme", "stripe", "acme-stripe-secret")
    hooks.set_secret("other", "github", "other-github-secret")
    with sessions.begin() as s:
        acme = s.get(HookSecret, ("acme", "github"))
        assert acme is not None
        s.execute(update(HookSecret).where(HookSecret.source == "stripe")
                  .values(secret=acme.secret))  # fmt: skip
        s.execute(update(HookSecret).where(HookSecret.tenant_id == "other")
                  .values(secret=acme.secret))  # fmt: skip
    with pytest.raises(SecretTampered):
        hooks.secret("acme", "stripe")
    with pytest.raises(SecretTampered):
        hooks.secret("other", "github")
    assert hooks.secret("acme", "github") == "acme-github-secret"
    # a subscription's signing secret is bound to its webhook id
    one = hooks.add_webhook("acme", "https://a.example/h", ["*"], "whsec_one_secret")
    two = hooks.add_webhook("acme", "https://b.example/h", ["*"], "whsec_two_secret")
    with sessions.begin() as s:
        s.execute(update(Webhook).where(Webhook.id == two.id).values(secret=one.secret))
    assert hooks.signing_secret(one.id) == "whsec_one_secret"
    with pytest.raises(SecretTampered):
        hooks.signing_secret(two.id)


def test_a_data_key_copied_to_another_tenant_does_not_unwrap(database_url: str) -> None:
    sessions, master = _sessions(database_url), MasterKey.generate()
    named = TenantSecrets(sessions, _vault(sessions, master))
    named.set("acme", "token", "acme-value")
    named.set("other", "token", "other-value")
    with sessions.begin() as s:
        acme = s.get(TenantKey, "acme")
        assert acme is not None
        s.execute(update(TenantKey).where(TenantKey.tenant_id == "other")
                  .values(key_id=acme.key_id, wrapped=acme.wrapped))  # fmt: skip
    with pytest.raises(SecretTampered):
        TenantSecrets(sessions, _vault(sessions, master)).get("other", "token")


def test_plain_values_from_before_are_read_and_resealed(database_url: str) -> None:
    sessions, master = _sessions(database_url), MasterKey.generate()
    vault = _vault(sessions, master)
    hooks = WebhookStore(sessions, vault)
    hooks.set_secret("acme", "github", "x")
    sub = hooks.add_webhook("acme", "https://a.example/h", ["*"], "y")
    named = TenantSecrets(sessions, vault)
    named.set("acme", "token", "z")
    with sessions.begin() as s:  # what 0007's PlainBox wrote
        s.execute(text("UPDATE hook_secrets SET secret = 'plain:old-hook-secret'"))
        s.execute(text("UPDATE webhooks SET secret = 'plain:whsec_oldsigning'"))
        s.execute(text("UPDATE tenant_secrets SET value = 'plain:old-token'"))
    assert [i.scheme for i in named.infos("acme")] == ["plain", "plain", "plain"]
    # read lazily: the value is right and the row is sealed from then on
    assert hooks.secret("acme", "github") == "old-hook-secret"
    assert hooks.signing_secret(sub.id) == "whsec_oldsigning"
    assert named.get("acme", "token") == "old-token"
    assert {i.scheme for i in named.infos("acme")} == {"v1"}
    # and rotate seals whatever was not read
    with sessions.begin() as s:
        s.execute(text("UPDATE tenant_secrets SET value = 'plain:again'"))
    assert vault.rotate().resealed == 1
    with sessions() as s:
        assert s.scalars(select(TenantSecret.value)).one().startswith("v1:")
    assert named.get("acme", "token") == "again"


def test_rotating_the_master_key_rewraps_the_data_keys(database_url: str) -> None:
    sessions = _sessions(database_url)
    old, new = MasterKey.generate(), MasterKey.generate()
    TenantSecrets(sessions, _vault(sessions, old)).set("acme", "token", "kept-across")
    with sessions() as s:
        sealed_before = s.scalars(select(TenantSecret.value)).one()

    # the new key alone cannot read what the old one wrapped: a typed error naming the fix
    with pytest.raises(WrongMasterKey) as raised:
        TenantSecrets(sessions, _vault(sessions, new)).get("acme", "token")
    assert raised.value.master_id == old.id and "VITCO_MASTER_KEY_OLD" in raised.value.fix
    with pytest.raises(WrongMasterKey):  # rotate without the old key changes nothing
        _vault(sessions, new).rotate()

    done = _vault(sessions, new, old).rotate()
    assert (done.master_id, done.rewrapped, done.current) == (new.id, 1, 0)
    with sessions() as s:
        row = s.get(TenantKey, "acme")
        assert row is not None and row.master_id == new.id and row.rotated_at is not None
        assert s.scalars(select(TenantSecret.value)).one() == sealed_before  # not re-encrypted
    assert TenantSecrets(sessions, _vault(sessions, new)).get("acme", "token") == "kept-across"
    with pytest.raises(WrongMasterKey):
        TenantSecrets(sessions, _vault(sessions, old)).get("acme", "token")
    assert _vault(sessions, new).rotate().rewrapped == 0  # again: nothing to do


def test_values_lists_every_stored_secret_for_redaction(database_url: str) -> None:
    sessions, master = _sessions(database_url), MasterKey.generate()
    vault = _vault(sessions, master)
    WebhookStore(sessions, vault).set_secret("acme", "stripe", "whsec_planted_1")
    WebhookStore(sessions, vault).add_webhook("other", "https://x.example", ["*"], "sign-2")
    TenantSecrets(sessions, vault).set("acme", "token", "tok-3")
    assert set(TenantSecrets(sessions, vault).values()) == {"whsec_planted_1", "sign-2", "tok-3"}
