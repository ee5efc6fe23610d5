"""Opt-out hashes and frequency-cap keys depend on the opt-out pepper, never on the
customer link secrets: rotating the link secrets leaves every opt-out matching, and a
pepper rotation keeps the previous pepper's hashes matching (docs/security.md)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from relais_contracts.topics.notifications import Channel
from relais_notifier.adapters.customer_hashes import CustomerHashes
from relais_notifier.adapters.links import LinkMaker
from relais_notifier.domain.policy import Contact
from relais_runtime.links import LinkPurpose

OLD_LINK = "test-only-old-link-secret-0123456789abcdef"
NEW_LINK = "test-only-new-link-secret-0123456789abcdef"
PEPPER = "test-only-opt-out-pepper-0123456789abcdef"
NEW_PEPPER = "test-only-new-opt-out-pepper-0123456789ab"
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CONTACT = Contact(
    email="Camille@Example.com ",
    phone="+33612345678",
    first_name="Camille",
    locale="fr-FR",
    time_zone="Europe/Paris",
)


def maker(link_secrets: list[str], hashes: CustomerHashes) -> LinkMaker:
    return LinkMaker(
        secrets=link_secrets,
        hashes=hashes,
        public_chat_base_url="https://chat.relais.example",
        public_notifier_base_url="https://chat.relais.example",
        max_age=timedelta(days=30),
        unsubscribe_max_age=timedelta(days=365),
    )


def unsubscribe_subject(links: LinkMaker, verifier: LinkMaker) -> str:
    url = links.unsubscribe_url(
        merchant_id="maison-lumiere", channel=Channel.EMAIL, address="camille@example.com", now=NOW
    )
    token = url.rsplit("/", 1)[1]
    return verifier.unsubscribe_signer.verify(
        token, purpose=LinkPurpose.UNSUBSCRIBE, now=NOW
    ).subject


def test_an_opt_out_survives_a_customer_link_secret_rotation() -> None:
    hashes = CustomerHashes(pepper=PEPPER)
    before = maker([OLD_LINK], hashes)
    during = maker([NEW_LINK, OLD_LINK], hashes)
    after = maker([NEW_LINK], hashes)
    # What the unsubscribe link recorded before the rotation...
    recorded = unsubscribe_subject(before, during)
    # ...is what every lookup computes during and after it: the hash has no link secret in it.
    lookup = after.hashes.address_hash(merchant_id="maison-lumiere", address="camille@example.com")
    assert recorded == f"email:{lookup}"
    assert unsubscribe_subject(during, after) == recorded
    assert unsubscribe_subject(after, after) == recorded


def test_the_frequency_cap_key_survives_a_customer_link_secret_rotation() -> None:
    keys = {
        tuple(link_secrets): maker(link_secrets, CustomerHashes(pepper=PEPPER)).hashes.customer_key(
            merchant_id="velocity-sports", contact=CONTACT
        )
        for link_secrets in ([OLD_LINK], [NEW_LINK, OLD_LINK], [NEW_LINK])
    }
    assert len(set(keys.values())) == 1


def test_hashes_are_keyed_by_the_pepper_and_scoped_by_merchant() -> None:
    hashes = CustomerHashes(pepper=PEPPER)
    address = hashes.address_hash(merchant_id="maison-lumiere", address=" CAMILLE@example.com")
    assert address == hashes.address_hash(
        merchant_id="maison-lumiere", address="camille@example.com"
    )
    assert address != hashes.address_hash(
        merchant_id="velocity-sports", address="camille@example.com"
    )
    assert address != CustomerHashes(pepper=NEW_PEPPER).address_hash(
        merchant_id="maison-lumiere", address="camille@example.com"
    )
    # Same construction as before the split (HMAC-SHA256 of kind, merchant, value): a
    # deployment that sets RELAIS_OPT_OUT_PEPPER to its former RELAIS_LINK_SECRET keeps
    # every recorded opt-out and frequency-cap key as they are.
    expected = hmac.new(
        PEPPER.encode(), b"address\x1fmaison-lumiere\x1fcamille@example.com", hashlib.sha256
    ).hexdigest()
    assert address == expected


def test_a_pepper_rotation_matches_the_current_pepper_first_then_the_previous() -> None:
    before = CustomerHashes(pepper=PEPPER)
    rotated = CustomerHashes(pepper=NEW_PEPPER, previous_peppers=[PEPPER])
    old_hash = before.address_hash(merchant_id="maison-lumiere", address="camille@example.com")
    current, previous = rotated.address_hashes(
        merchant_id="maison-lumiere", address="camille@example.com"
    )
    assert previous == old_hash
    assert current == rotated.address_hash(
        merchant_id="maison-lumiere", address="camille@example.com"
    )
    assert current != old_hash
    old_key = before.customer_key(merchant_id="velocity-sports", contact=CONTACT)
    keys = rotated.customer_keys(merchant_id="velocity-sports", contact=CONTACT)
    assert keys[1] == old_key
    assert keys[0] == rotated.customer_key(merchant_id="velocity-sports", contact=CONTACT)


def test_a_customer_id_names_the_customer_before_any_address() -> None:
    hashes = CustomerHashes(pepper=PEPPER)
    known = Contact(
        email="a@example.com",
        phone=None,
        first_name=None,
        locale="fr-FR",
        time_zone="Europe/Paris",
        customer_id="C-1",
    )
    other_address = Contact(
        email="b@example.com",
        phone=None,
        first_name=None,
        locale="fr-FR",
        time_zone="Europe/Paris",
        customer_id="C-1",
    )
    assert hashes.customer_key(merchant_id="m", contact=known) == hashes.customer_key(
        merchant_id="m", contact=other_address
    )
    nobody = Contact(email=None, phone=None, first_name=None, locale="fr-FR", time_zone="UTC")
    assert hashes.customer_key(merchant_id="m", contact=nobody) is None
    assert hashes.customer_keys(merchant_id="m", contact=nobody) == ()


def test_a_short_pepper_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        CustomerHashes(pepper="short")
    with pytest.raises(ValueError, match="at least 32"):
        CustomerHashes(pepper=PEPPER, previous_peppers=["short"])
    with pytest.raises(ValueError, match="list of peppers"):
        CustomerHashes(pepper=PEPPER, previous_peppers=PEPPER)
