"""The desk's pages: the queue and one case (transcript, order timeline, actions).

Rules: rendered inside the office frame, usable without JavaScript (filters are a GET
form, every action a POST form with the CSRF token); action forms show only to agents
and admins (a viewer reads); times in the merchant's time zone, time left in hours and
minutes, "overdue" past the due time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from relais_insights.domain.desk import CaseStatus, DeskCase, time_left_words
from relais_insights.domain.office import Role
from relais_insights.service.desk import QueueFilter
from relais_insights.service.office_orders import OrderView
from relais_insights.service.office_users import SignedInUser
from relais_insights.ui import texts
from relais_insights.ui.office import office_language, render_office
from relais_insights.ui.office_orders import Shown, describe
from relais_runtime.merchants import MerchantConfig


def time_left(language: str, case: DeskCase, now: datetime) -> str:
    overdue, hours, minutes = time_left_words(case.time_left(now))
    key = "desk_overdue" if overdue else "desk_left"
    return texts.say(language, key, hours=hours, minutes=minutes)


def _row(case: DeskCase, shown: Shown, now: datetime, names: dict[str, str]) -> dict[str, Any]:
    return {
        "case": case,
        "url": f"/office/{shown.merchant_id}/desk/{case.case_id}?lang={shown.language}",
        "kind": texts.say(shown.language, f"desk_kind_{case.kind.value}"),
        "status": texts.say(shown.language, f"desk_status_{case.status.value}"),
        "opened": shown.when(case.opened_at),
        "due": shown.when(case.due_at),
        "left": time_left(shown.language, case, now),
        "overdue": case.time_left(now).total_seconds() < 0,
        "assignee": names.get(str(case.assignee), "—") if case.assignee else "—",
        "anomaly": shown.anomaly(case.anomaly_type) if case.anomaly_type else "—",
    }


def render_desk(
    *,
    merchant: MerchantConfig,
    user: SignedInUser,
    lang: str | None,
    cases: list[DeskCase],
    shown_filter: QueueFilter,
    agents: list[tuple[str, str]],
    now: datetime,
) -> str:
    language = office_language(lang, user, merchant)
    shown = Shown(language, merchant.time_zone, merchant.merchant_id)
    names = dict(agents)
    return render_office(
        "office/desk.html",
        merchant=merchant,
        user=user,
        lang=language,
        section="desk",
        rows=[_row(case, shown, now, names) for case in cases],
        statuses=[(s.value, texts.say(language, f"desk_status_{s.value}")) for s in CaseStatus],
        agents=agents,
        chosen_status=shown_filter.status.value if shown_filter.status else "",
        chosen_assignee=("none" if shown_filter.unassigned else str(shown_filter.assignee or "")),
    )


def render_case(
    *,
    merchant: MerchantConfig,
    user: SignedInUser,
    lang: str | None,
    case: DeskCase,
    order: OrderView | None,
    agents: list[tuple[str, str]],
    now: datetime,
    error: str | None = None,
) -> str:
    language = office_language(lang, user, merchant)
    shown = Shown(language, merchant.time_zone, merchant.merchant_id)
    return render_office(
        "office/desk_case.html",
        merchant=merchant,
        user=user,
        lang=language,
        section="desk",
        row=_row(case, shown, now, dict(agents)),
        case=case,
        shown=shown,
        can_act=user.can(Role.AGENT),
        agents=agents,
        statuses=[(s.value, texts.say(language, f"desk_status_{s.value}")) for s in CaseStatus],
        transcript=[
            {**line, "who": texts.say(language, f"desk_speaker_{line['speaker']}")}
            for line in case.transcript
        ],
        order_url=shown.order_url(case.order_number) if case.order_number else None,
        timeline=[
            {"entry": entry, "when": shown.when(entry.at), "text": describe(entry, shown)}
            for entry in (order.timeline if order else [])
        ],
        slot=(shown.when(case.slot_start), shown.when(case.slot_end)) if case.slot_start else None,
        back_url=f"/office/{merchant.merchant_id}/desk?lang={language}",
        error=error,
    )
