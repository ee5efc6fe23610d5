"""Carrier names as people and aggregators write them, mapped to Relais's carrier codes.

The one alias table of the tracker: the webhook route's `{carrier}`, `relais normalize
CARRIER`, the generic format's `carrier` field, order parcels' `carrier` and the real
carrier an aggregator names all go through `carrier_code`.

Rules:
- a name is compared folded: lower case, without accents, each run of anything but
  letters and digits made one `_` ("Mondial Relay", "mondial-relay" and "MONDIAL_RELAY"
  are the same name), then looked up in `ALIASES`;
- a name no alias knows keeps its folded form when that is a valid carrier code
  (relais_contracts.common.CarrierCode: `[a-z][a-z0-9_]{1,31}`): an unknown carrier is
  still a carrier (`swiss-post` is `swiss_post`); a name that cannot be one gives None;
- `GENERIC` is "a carrier the sender did not name": it matches any carrier (see
  relais_tracker.domain.shipments.compatible_carriers).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Final

GENERIC: Final = "generic"

_CODE: Final = re.compile(r"^[a-z][a-z0-9_]{1,31}$")

# Relais carrier code -> the names that mean it, folded. Sources, per name:
# - the carrier's own name and common spellings (issue 14);
# - AfterShip courier slugs (https://www.aftership.com/docs/tracking/others/supported-couriers
#   and the slug groups of https://www.aftership.com/docs/tracking/2025-01/enum/slug-groups):
#   `la-poste-colissimo`, `colissimo`, `chronopost-france`, `dhl`, `dhl-germany`, `ups`,
#   `fedex`, `fedex-uk`, `dpd`, `dpd-de`, `exapaq` ("DPD France"), `gls`, `mondialrelay`;
# - Karrio connector names (karrioapi/karrio modules/connectors/*: `laposte`,
#   `dhl_express`, `dhl_universal`, `dhl_parcel_de`, `mydhl`, `dpd_meta`);
# - Shippo/eBay style tokens met in merchants' exports (`la_poste`, `dhl_germany`).
# 17TRACK names carriers by number: its codes are in
# relais_tracker.adapters.carriers.seventeen_track.
ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "colissimo": ("colissimo", "la_poste_colissimo", "laposte", "la_poste", "coliposte"),
    "chronopost": ("chronopost", "chronopost_france", "chronopost_fr"),
    "dhl": (
        "dhl",
        "dhl_express",
        "dhl_germany",
        "dhl_de",
        "dhl_paket",
        "dhl_universal",
        "dhl_parcel_de",
        "mydhl",
        "deutsche_post_dhl",
    ),
    "ups": ("ups", "united_parcel_service"),
    "fedex": ("fedex", "fedex_uk", "federal_express"),
    "dpd": ("dpd", "dpd_fr", "dpd_france", "dpd_de", "dpd_meta", "exapaq"),
    "gls": ("gls", "gls_france", "gls_fr", "gls_de"),
    "mondial_relay": ("mondial_relay", "mondialrelay", "mondial_relay_fr"),
    "royal_mail": ("royal_mail", "royalmail"),
    "postnl": ("postnl", "post_nl", "postnl_3s", "postnl_international"),
    "inpost": ("inpost", "inpost_paczkomaty", "paczkomaty"),
    "evri": ("evri", "hermes_uk", "myhermes"),
    "bpost": ("bpost", "bpost_international", "belgian_post"),
    "correos": ("correos", "correos_de_espana", "correos_spain"),
    "colis_prive": ("colis_prive", "colisprive", "colis_privee"),
    "aftership": ("aftership",),
    "seventeen_track": ("seventeen_track", "17track", "track17"),
    "karrio": ("karrio",),
    GENERIC: (GENERIC,),
}

_BY_ALIAS: Final[dict[str, str]] = {
    alias: code for code, aliases in ALIASES.items() for alias in aliases
}


@lru_cache(maxsize=1024)
def fold_name(name: str) -> str:
    """Lower case, no accents, runs of other characters as one `_`, ends stripped.
    Cached: every carrier update names its carrier, and they are few."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return re.sub(r"[^a-z0-9]+", "_", plain).strip("_")


def known_carrier(name: str) -> str | None:
    """The Relais code of a name the alias table knows, else None."""
    return _BY_ALIAS.get(fold_name(name))


def carrier_code(name: str) -> str | None:
    """The Relais code of `name`: its alias, else its folded form when that is a valid
    carrier code, else None."""
    known = known_carrier(name)
    if known is not None:
        return known
    folded = fold_name(name)
    return folded if _CODE.match(folded) else None
