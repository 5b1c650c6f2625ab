"""The payment states (services/payments.py): every (state, report) pair of the transition table
against the database, the pure `decide`, and the profile assigned only by the report that
approves."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from decimal import Decimal

import pytest

from userman.core.errors import NotFoundError
from userman.services import Actor, Userman
from userman.services.payments import (
    TRANSITIONS,
    Checkout,
    Report,
    Status,
    decide,
)
from userman.store import models

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def app(module_db_url: str) -> Iterator[Userman]:
    userman = Userman(module_db_url)
    userman.prepare()
    do = userman.execute
    do(Actor.superuser(), ("customer",), "set", ("admin",), {"currency": "EUR"})
    do(Actor.superuser(), ("profile",), "add", (), {"name": "month", "price": "10"})
    do(Actor.superuser(), ("user",), "add", (), {"username": "u", "password": "p"})
    yield userman
    userman.close()


def new_payment(app: Userman, status: Status) -> int:
    with app.database.begin() as db:
        user = db.query(models.User).filter_by(username="u").one()
        profile = db.query(models.Profile).filter_by(name="month").one()
        row = models.Payment(
            subscriber_id=user.subscriber_id, customer_id=user.customer_id, user_id=user.id,
            username="u", profile_id=profile.id, profile_name="month", price=Decimal(10),
            currency="EUR", method="paypal", trans_start=NOW, trans_status=status.value,
        )  # fmt: skip
        db.add(row)
        db.flush()
        return row.id


def assigned(app: Userman) -> int:
    with app.database.begin() as db:
        return db.query(models.UserProfile).count()


def test_the_table_covers_every_state() -> None:
    assert set(TRANSITIONS) == set(Status)
    assert TRANSITIONS[Status.APPROVED] == TRANSITIONS[Status.DECLINED] == frozenset()
    assert all(Status.STARTED not in targets for targets in TRANSITIONS.values())


@pytest.mark.parametrize(("start", "report"), list(itertools.product(Status, Status)))
def test_every_state_and_report(app: Userman, start: Status, report: Status) -> None:
    payment_id = new_payment(app, start)
    before = assigned(app)
    settled = app.payments.settle(payment_id, Report(report, "said", Decimal(10), "EUR"), NOW)
    moves = report in TRANSITIONS[start]
    assert settled.status is (report if moves else start)
    assert app.payments.checkout(payment_id).status is settled.status
    assert settled.activated is (moves and report is Status.APPROVED)
    assert assigned(app) == before + int(settled.activated)


def checkout(**overrides: object) -> Checkout:
    values: dict[str, object] = {
        "payment_id": 1, "subscriber_id": 1, "reference": "userman-payment-1", "username": "u",
        "profile": "month", "price": Decimal("10.00"), "currency": "EUR",
        "status": Status.STARTED, "business_id": "Shop@Example.net", "accept_pending": False,
        "callback_base": "https://h",
    }  # fmt: skip
    values.update(overrides)
    return Checkout(**values)  # type: ignore[arg-type]


def test_decide() -> None:
    paid = Report(Status.APPROVED, "ok", Decimal("10.0"), "EUR", "shop@example.net")
    assert decide(checkout(), paid) == (Status.APPROVED, "ok")
    wrong_amount = Report(Status.APPROVED, "ok", Decimal("9.99"), "EUR")
    assert decide(checkout(), wrong_amount)[0] is Status.ERROR
    assert "paid 9.99 EUR, not 10.00 EUR" in decide(checkout(), wrong_amount)[1]
    assert decide(checkout(), Report(Status.APPROVED, "ok", Decimal(10), "USD"))[0] is Status.ERROR
    stranger = Report(Status.APPROVED, "ok", Decimal(10), "EUR", "thief@example.com")
    assert decide(checkout(), stranger)[0] is Status.ERROR
    pending = Report(Status.PENDING, "held")
    assert decide(checkout(), pending) == (Status.PENDING, "held")
    accepted = decide(checkout(accept_pending=True), pending)
    assert accepted[0] is Status.APPROVED
    assert "paypal-accept-pending" in accepted[1]
    assert decide(checkout(), Report(Status.ABORTED, "cancel")) == (Status.ABORTED, "cancel")


@pytest.mark.parametrize(
    "text",
    ["", "userman-payment-", "userman-payment-x1", "other-7", "7", "userman-payment-1",
     "userman-payment-1-0000000000000000", "userman-payment-99999999999999999999999-x"],
)  # fmt: skip
def test_a_reference_that_is_not_ours(app: Userman, text: str) -> None:
    with pytest.raises(NotFoundError):
        app.payments.payment_of(text)


def test_a_reference_is_signed(app: Userman) -> None:
    payment_id = new_payment(app, Status.STARTED)
    reference = app.payments.checkout(payment_id).reference
    assert reference.startswith(f"userman-payment-{payment_id}-")
    assert app.payments.payment_of(reference) == payment_id
    other = new_payment(app, Status.STARTED)
    forged = reference.replace(f"-{payment_id}-", f"-{other}-")
    with pytest.raises(NotFoundError):
        app.payments.payment_of(forged)
