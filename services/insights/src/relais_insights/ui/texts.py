"""The dashboard's words, per language (the chat's approach: one catalogue, every key
in every language, a unit test checks it); numbers and dates go through babel."""

from __future__ import annotations

from typing import Final

LANGUAGES: Final = ("en", "fr")

CATALOGUE: Final[dict[str, dict[str, str]]] = {
    "en": {
        "title": "Insights",
        "login_title": "Sign in to the insights of {merchant}",
        "api_key": "API key",
        "sign_in": "Sign in",
        "bad_key": "This key does not open this merchant's insights.",
        "period": "Period",
        "from": "From",
        "to": "To",
        "show": "Show",
        "last_7": "Last 7 days",
        "last_30": "Last 30 days",
        "last_90": "Last 90 days",
        "export_csv": "Export CSV",
        "sign_out": "Sign out",
        "parcels": "Parcels",
        "anomaly_share": "Parcels with an anomaly",
        "told_share": "Anomalies told to the customer",
        "median_to_tell": "Median time to tell",
        "resolution_rate": "Anomalies resolved",
        "csat_average": "Customer satisfaction",
        "views_per_order": "Tracking page views per order",
        "on_time_rate": "Delivered on time",
        "contacts_avoided": "Contacts avoided",
        "money_saved": "Money saved",
        "anomalies_by_day": "Anomalies per day",
        "anomalies_by_type": "Anomalies by type",
        "anomalies_by_carrier": "Anomalies by carrier",
        "anomalies_by_region": "Anomalies by destination (country-postcode)",
        "funnel": "From anomaly to solution",
        "stage_anomalies": "Anomalies",
        "stage_told": "Customer told",
        "stage_opened": "Chat opened",
        "stage_completed": "Chat completed",
        "stage_action_chosen": "Action chosen",
        "stage_action_completed": "Action completed",
        "escalations": "Escalations to a human",
        "callbacks": "Callbacks requested",
        "actions_escalated": "Actions handed to a human",
        "anomalies_escalated": "Anomalies escalated",
        "abandonment": "Chats abandoned",
        "resolutions": "Resolutions chosen by customers",
        "actions_completed": "Actions completed",
        "automatic_actions": "Automatic actions",
        "time_to_resolution": "Median time to resolution",
        "csat": "Satisfaction survey (1 to 5)",
        "responses": "Responses",
        "comments": "Latest comments",
        "no_comments": "No comment in this period.",
        "wismo": "Where is my order? answered by the tracking page",
        "orders": "Orders",
        "tracking_views": "Tracking page views",
        "carriers": "Carrier performance",
        "by_carrier": "By carrier",
        "by_region": "By destination",
        "carrier": "Carrier",
        "region": "Destination",
        "delivered": "Delivered",
        "on_time": "On time",
        "lead_time": "Median lead time",
        "first_attempt": "First attempt",
        "savings": "What Relais saved",
        "assumptions": "Assumptions (merchant configuration, section insights)",
        "cost_per_contact": "Cost of one customer-service contact",
        "anomaly_contact_rate": "Share of told anomalies that would have become a contact",
        "wismo_contact_rate": "Share of tracking page views that would have become a contact",
        "savings_formula": "{told} anomalies told \u00d7 {anomaly_rate}"
        " + {views} views \u00d7 {wismo_rate} = {avoided} contacts \u00d7 {cost}",
        "minutes": "{value} min",
        "hours": "{value} h",
        "none": "—",
        "no_data": "Nothing in this period.",
        "language": "Language",
    },
    "fr": {
        "title": "Statistiques",
        "login_title": "Accès aux statistiques de {merchant}",
        "api_key": "Clé d'API",
        "sign_in": "Se connecter",
        "bad_key": "Cette clé n'ouvre pas les statistiques de ce marchand.",
        "period": "Période",
        "from": "Du",
        "to": "Au",
        "show": "Afficher",
        "last_7": "7 derniers jours",
        "last_30": "30 derniers jours",
        "last_90": "90 derniers jours",
        "export_csv": "Exporter en CSV",
        "sign_out": "Se déconnecter",
        "parcels": "Colis",
        "anomaly_share": "Colis avec une anomalie",
        "told_share": "Anomalies annoncées au client",
        "median_to_tell": "Délai médian d'information",
        "resolution_rate": "Anomalies résolues",
        "csat_average": "Satisfaction client",
        "views_per_order": "Consultations du suivi par commande",
        "on_time_rate": "Livrés à temps",
        "contacts_avoided": "Contacts évités",
        "money_saved": "Économies",
        "anomalies_by_day": "Anomalies par jour",
        "anomalies_by_type": "Anomalies par type",
        "anomalies_by_carrier": "Anomalies par transporteur",
        "anomalies_by_region": "Anomalies par destination (pays-code postal)",
        "funnel": "De l'anomalie à la solution",
        "stage_anomalies": "Anomalies",
        "stage_told": "Client informé",
        "stage_opened": "Chat ouvert",
        "stage_completed": "Chat terminé",
        "stage_action_chosen": "Action choisie",
        "stage_action_completed": "Action réalisée",
        "escalations": "Escalades vers un conseiller",
        "callbacks": "Rappels demandés",
        "actions_escalated": "Actions confiées à un conseiller",
        "anomalies_escalated": "Anomalies escaladées",
        "abandonment": "Chats abandonnés",
        "resolutions": "Solutions choisies par les clients",
        "actions_completed": "Actions réalisées",
        "automatic_actions": "Actions automatiques",
        "time_to_resolution": "Délai médian de résolution",
        "csat": "Enquête de satisfaction (1 à 5)",
        "responses": "Réponses",
        "comments": "Derniers commentaires",
        "no_comments": "Aucun commentaire sur la période.",
        "wismo": "« Où est ma commande ? » résolu par la page de suivi",
        "orders": "Commandes",
        "tracking_views": "Consultations de la page de suivi",
        "carriers": "Performance des transporteurs",
        "by_carrier": "Par transporteur",
        "by_region": "Par destination",
        "carrier": "Transporteur",
        "region": "Destination",
        "delivered": "Livrés",
        "on_time": "À temps",
        "lead_time": "Délai médian d'acheminement",
        "first_attempt": "Au premier passage",
        "savings": "Ce que Relais a fait économiser",
        "assumptions": "Hypothèses (configuration du marchand, section insights)",
        "cost_per_contact": "Coût d'un contact au service client",
        "anomaly_contact_rate": "Part des anomalies annoncées qui auraient donné un contact",
        "wismo_contact_rate": "Part des consultations du suivi qui auraient donné un contact",
        "savings_formula": "{told} anomalies annoncées \u00d7 {anomaly_rate}"
        " + {views} consultations \u00d7 {wismo_rate} = {avoided} contacts \u00d7 {cost}",
        "minutes": "{value} min",
        "hours": "{value} h",
        "none": "—",
        "no_data": "Rien sur cette période.",
        "language": "Langue",
    },
}


ANOMALY_LABELS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "preparation_delay": "Preparation delay",
        "delivery_late": "Late delivery",
        "stalled": "No carrier scan",
        "lost": "Lost",
        "failed_attempt": "Failed delivery attempt",
        "address_problem": "Address problem",
        "returned_to_sender": "Returned to sender",
        "damaged": "Damaged",
        "refused": "Refused",
        "pickup_ready": "Waiting at a pickup point",
        "pickup_hold_expiring": "Pickup hold expiring",
        "delivered_to_third_party": "Left with a neighbour or safe place",
        "held_at_customs": "Held at customs",
    },
    "fr": {
        "preparation_delay": "Retard de préparation",
        "delivery_late": "Livraison en retard",
        "stalled": "Colis sans mouvement",
        "lost": "Perdu",
        "failed_attempt": "Échec de livraison",
        "address_problem": "Problème d'adresse",
        "returned_to_sender": "Retourné à l'expéditeur",
        "damaged": "Endommagé",
        "refused": "Refusé",
        "pickup_ready": "En attente en point relais",
        "pickup_hold_expiring": "Fin de garde en point relais",
        "delivered_to_third_party": "Remis à un voisin ou en lieu sûr",
        "held_at_customs": "Retenu en douane",
    },
}
"""Every AnomalyType of the contracts, in every language (a unit test checks it)."""

ACTION_LABELS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "reship": "New parcel",
        "refund": "Refund",
        "store_credit": "Store credit",
        "address_change": "New address",
        "redelivery": "New delivery",
        "pickup_point_change": "Another pickup point",
        "return_label": "Return label",
        "callback_ticket": "Callback",
    },
    "fr": {
        "reship": "Nouvel envoi",
        "refund": "Remboursement",
        "store_credit": "Avoir",
        "address_change": "Nouvelle adresse",
        "redelivery": "Nouvelle livraison",
        "pickup_point_change": "Autre point relais",
        "return_label": "Étiquette de retour",
        "callback_ticket": "Rappel",
    },
}
"""Every ActionType of the contracts, in every language (a unit test checks it)."""


def anomaly_label(language: str, code: str) -> str:
    """An unknown code (a newer producer) shows as it is rather than failing the page."""
    return ANOMALY_LABELS[language].get(code, code)


def action_label(language: str, code: str) -> str:
    return ACTION_LABELS[language].get(code, code)


def ui_language(requested: str | None, fallback: str) -> str:
    for candidate in (requested, fallback):
        language = (candidate or "").split("-")[0]
        if language in LANGUAGES:
            return language
    return "en"


def say(language: str, key: str, **values: object) -> str:
    text = CATALOGUE[language].get(key) or CATALOGUE["en"].get(key) or key
    return text.format(**values) if values else text
