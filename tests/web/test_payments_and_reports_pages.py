"""The customer's payments page and reports (web/payments.py, web/reports.py,
services/reports.py), in process: filters, the printable report and its CSV, and what a
customer sees of them: its subscriber's only, narrowed by its access flags."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from userman.services import Actor, Userman
from userman.store import models
from userman.web.app import create_app

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
TODAY = NOW.date()


def do(app: Userman, command: str, *positional: str, **args: str) -> None:
    *path, verb = command.split()
    app.execute(Actor.superuser(), tuple(path), verb, positional, args)


def _customer(db: object, login: str) -> models.Customer:
    return db.query(models.Customer).filter_by(login=login).one()  # type: ignore[attr-defined,no-any-return]


def add_usage(app: Userman, login: str, username: str, when: dt.datetime, **values: int) -> None:
    with app.database.begin() as db:
        customer = _customer(db, login)
        user = db.query(models.User).filter_by(username=username, customer_id=customer.id).one()
        db.add(
            models.UserSession(
                subscriber_id=user.subscriber_id, customer_id=customer.id, user_id=user.id,
                username=username, acct_session_id=f"{username}{when.timestamp()}",
                from_time=when, till_time=when + dt.timedelta(seconds=values.get("uptime", 0)),
                active=False, status="start,stop", **values,
            )
        )  # fmt: skip


def add_payment(app: Userman, login: str, username: str, status: str, price: str) -> None:
    with app.database.begin() as db:
        customer = _customer(db, login)
        user = db.query(models.User).filter_by(username=username, customer_id=customer.id).one()
        db.add(
            models.Payment(
                subscriber_id=user.subscriber_id, customer_id=customer.id, user_id=user.id,
                username=username, profile_name="month", price=Decimal(price),
                currency=customer.currency, method="paypal", trans_start=NOW,
                trans_end=NOW if status != "started" else None, trans_status=status,
                result_msg=f"{username}-{status}",
            )
        )  # fmt: skip


@pytest.fixture(scope="module")
def world(module_db_url: str) -> Iterator[Userman]:
    """Subscriber admin (EUR) with sub-customer reseller (own-users) and users alice (admin's)
    and rita (reseller's); subscriber other with user olga."""
    app = Userman(module_db_url)
    app.prepare()
    do(app, "customer set", "admin", currency="EUR", password="adminpw")
    do(app, "customer add", login="reseller", parent="admin", password="resellerpw",
       permissions="read-only", access="own-users")  # fmt: skip
    do(app, "user add", username="alice", password="a", customer="admin")
    do(app, "user add", username="rita", password="r", customer="reseller")
    do(app, "customer add", login="other", password="otherpw")
    do(app, "user add", username="olga", password="o", customer="other")
    yesterday = NOW - dt.timedelta(days=1)
    add_usage(app, "admin", "alice", yesterday, uptime=3600, download=2048, upload=1024)
    add_usage(app, "admin", "alice", yesterday, uptime=1800, download=1024, upload=0)
    add_usage(app, "admin", "alice", NOW - dt.timedelta(days=90), uptime=99, download=99)
    add_usage(app, "reseller", "rita", yesterday, uptime=60, download=10, upload=20)
    add_usage(app, "other", "olga", yesterday, uptime=7777, download=7777)
    add_payment(app, "admin", "alice", "approved", "10")
    add_payment(app, "admin", "alice", "declined", "10")
    add_payment(app, "reseller", "rita", "started", "3.50")
    add_payment(app, "other", "olga", "approved", "99")
    yield app
    app.close()


def logged_in(app: Userman, login: str, password: str) -> TestClient:
    http = TestClient(create_app(app), follow_redirects=False)
    form = http.get("/userman/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    answer = http.post(
        "/userman/login",
        data={"login": login, "password": password, "csrf": token, "next": "/userman"},
    )
    assert answer.status_code == 303, answer.text
    return http


@pytest.fixture(scope="module")
def admin(world: Userman) -> Iterator[TestClient]:
    with logged_in(world, "admin", "adminpw") as http:
        yield http


def test_the_payments_page(admin: TestClient) -> None:
    page = admin.get("/userman/payments").text
    assert "alice-approved" in page
    assert "alice-declined" in page
    assert "rita-started" in page
    assert "olga" not in page  # another subscriber's
    assert "10.00 EUR" in page
    approved = admin.get("/userman/payments?status=approved").text
    assert "alice-approved" in approved
    assert "alice-declined" not in approved
    by_user = admin.get("/userman/payments?user=RIT").text
    assert "rita-started" in by_user
    assert "alice" not in by_user
    assert admin.get("/userman/payments?status=nonsense").status_code == 400
    assert admin.get("/userman/payments?user=%25").status_code == 200  # a pattern is text


def test_a_customer_sees_the_payments_of_users_it_reaches(world: Userman) -> None:
    with logged_in(world, "reseller", "resellerpw") as http:
        page = http.get("/userman/payments").text
        assert "rita-started" in page
        assert "alice" not in page
        assert "olga" not in page
        report = http.get("/userman/reports").text
        assert "rita" in report
        assert "alice" not in report
    with logged_in(world, "other", "otherpw") as http:
        page = http.get("/userman/payments").text
        assert "olga-approved" in page
        assert "alice" not in page


def test_the_pages_need_a_customer(world: Userman) -> None:
    with TestClient(create_app(world), follow_redirects=False) as http:
        for path in ("/userman/payments", "/userman/reports"):
            assert http.get(path).status_code == 303


def test_the_report(admin: TestClient) -> None:
    page = admin.get("/userman/reports").text
    row = re.search(r"<tr><td>alice</td>(.*?)</tr>", page).group(1)  # type: ignore[union-attr]
    cells = re.findall(r'<td class="num">([^<]*)</td>', row)
    assert cells == ["2", "1h30m", "3.0 KiB", "1.0 KiB", "10.00"]  # 90 days ago is outside
    assert "rita" in page
    assert "olga" not in page
    assert "data-print>Print</button>" in page
    old = admin.get(f"/userman/reports?first={TODAY - dt.timedelta(days=100)}&last={TODAY}").text
    assert re.search(r"<tr><td>alice</td><td class=\"num\">3</td>", old)


def test_the_report_as_csv(admin: TestClient) -> None:
    answer = admin.get(f"/userman/reports?format=csv&first={TODAY - dt.timedelta(days=3)}")
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == ["user", "sessions", "uptime-seconds", "download-bytes", "upload-bytes",
                       "paid-EUR"]  # fmt: skip
    assert ["alice", "2", "5400", "3072", "1024", "10.00"] in rows
    assert ["rita", "1", "60", "10", "20", "0.00"] in rows
    assert rows[-1][0] == "(total)"
    assert rows[-1][1] == "3"
    assert not any(row[0] == "olga" for row in rows)


def test_a_bad_period_is_refused(admin: TestClient) -> None:
    assert admin.get("/userman/reports?first=yesterday").status_code == 400
    assert admin.get("/userman/reports?first=2026-02-01&last=2026-01-01").status_code == 400


def test_a_report_of_some_users(admin: TestClient) -> None:
    page = admin.get("/userman/reports?user=ali").text
    assert "<tr><td>alice</td>" in page
    assert "rita" not in page
    answer = admin.get("/userman/reports?user=RIT&format=csv")
    assert [row[0] for row in csv.reader(io.StringIO(answer.text))] == ["user", "rita", "(total)"]
    assert "<tr><td>" not in admin.get("/userman/reports?user=%25").text  # % is text, no one
