"""The front door of the services for the adapters (CLI, server, web): `Userman`.

It owns the `Database`, brings the schema up to date, makes the default customer `admin` with an
empty password on first start (as the manual says), and runs each command as one transaction.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from userman.core.errors import PermissionDeniedError, UsermanError
from userman.services import commands, verbs
from userman.services.actor import Actor
from userman.services.menus import MENUS
from userman.services.permissions import make_actor
from userman.services.request import Outcome, Request
from userman.store import models
from userman.store.database import Database, default_url

if TYPE_CHECKING:
    from userman.core.accounting import AccountingRecord, SessionState
    from userman.core.authorize import AccessRequest, AuthMethod, Decision
    from userman.services.access import Effects, LogItem
    from userman.services.accounting import Accounted, AccountingItem
    from userman.services.certificates import TlsMaterial
    from userman.services.coa import CoaJob, Result
    from userman.services.dashboard import Dashboard
    from userman.services.listing import Listing, Query
    from userman.services.nodes import Registry
    from userman.services.payments import Payments
    from userman.services.policy import PolicyCache
    from userman.services.reports import Report
    from userman.services.routers import Failure, RouterInfo
    from userman.services.selfservice import SelfService
    from userman.services.signup import SignUpForm
    from userman.services.snapshot import RouterSnapshot
    from userman.services.subscriber_settings import SettingValue
    from userman.services.tokens import TokenInfo
    from userman.services.usage import Day
    from userman.services.vouchers import Voucher
    from userman.services.web_sessions import SessionInfo

__all__ = ["Userman", "default_url"]


RETAIN_EVERY = dt.timedelta(hours=1)  # between runs of the retention, once it caught up
RETAIN_BUDGET = 10.0  # seconds one run of the retention goes on for


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Userman:
    def __init__(
        self, url: str, *, backup_dir: Path | None = None, key_file: str | Path | None = None
    ) -> None:
        self.database = Database(url, key_file=key_file)
        self.backup_dir = backup_dir or self.database.data_dir / "backups"
        self._retain_next = dt.datetime.min.replace(tzinfo=dt.UTC)  # when `retain` is due

    def prepare(self) -> None:
        """Migrate the schema and create the default customer on an empty database."""
        self.database.migrate()
        with self.database.begin() as db:
            if db.scalar(select(models.Customer.id).limit(1)) is None:
                verbs.add(db, Actor.superuser(), MENUS["customer"], {"login": "admin"})

    def close(self) -> None:
        self.database.dispose()

    def rotate_key(self, *, keep_old: bool = False) -> tuple[str, int]:
        """`userman key rotate`: a new key seals every user password and shared secret again;
        the old keys are forgotten unless `keep_old` (docs/security.md). The new key's id and
        how many values were sealed again."""
        from userman.store.secrets import rotate  # noqa: PLC0415 - only this command's

        return rotate(self.database.engine, models.Base.metadata.sorted_tables, keep_old=keep_old)

    def tls_stamp(self) -> str:
        """The stamp of the certificates and the settings naming them (services/certificates.py):
        the EAP and RadSec servers read it every poll, and `tls_material` again when it changed,
        to build their TLS contexts anew without a restart."""
        from userman.services import certificates  # noqa: PLC0415 - only the TLS servers'

        with self.database.begin() as db:
            return certificates.tls_stamp(db)

    def tls_material(self) -> TlsMaterial:
        """The servers' certificates and keys, the trusted CAs and their CRLs, with their stamp."""
        from userman.services import certificates  # noqa: PLC0415 - only the TLS servers'

        with self.database.begin() as db:
            return certificates.tls_material(db)

    @property
    def key_file(self) -> Path | None:
        """The key file of the database (None: a database server with none configured)."""
        return self.database.key_file

    def actor(self, login: str | None) -> Actor:
        """The actor for `--as LOGIN` (a login, or its *ID); None: superuser."""
        if login is None:
            return Actor.superuser()
        with self.database.begin() as db:
            customer = verbs.find(db, Actor.superuser(), MENUS["customer"], login)
            if customer.disabled:
                raise PermissionDeniedError("an enabled customer", f"{login} is disabled")
            return make_actor(db, customer)

    def log_in(self, login: str, password: str) -> Actor:
        """The actor of a customer logging in to the web pages or the API."""
        from userman.services import login as logins  # noqa: PLC0415 - only the web needs it

        with self.database.begin() as db:
            return logins.log_in(db, login, password)

    def log_in_session(self, login: str, password: str) -> tuple[Actor, str]:
        """A customer logging in to the web pages: its actor and the session's fingerprint."""
        from userman.services import login as logins  # noqa: PLC0415 - only the web needs it

        with self.database.begin() as db:
            actor = logins.log_in(db, login, password)
            assert actor.customer_id is not None
            customer = db.get(models.Customer, actor.customer_id)
            assert customer is not None
            return actor, logins.fingerprint(customer)

    def customers_without_password(self) -> list[str]:
        """["admin"] while the default customer's password is still empty, for a warning
        when the web port is open to the network."""
        from userman.services import login as logins  # noqa: PLC0415

        with self.database.begin() as db:
            return logins.without_password(db)

    def resume_session(self, customer_id: int, fingerprint: str, sid: str) -> Actor:
        """The actor of a web session, refused when its customer's password changed since, or
        when the session has ended on the server (logged out, revoked)."""
        from userman.services import login as logins  # noqa: PLC0415
        from userman.services import web_sessions  # noqa: PLC0415

        with self.database.begin() as db:
            actor = logins.resume(db, customer_id, fingerprint)
            who = web_sessions.Who.CUSTOMER
            web_sessions.check(db, who, customer_id, sid, fingerprint, now=utcnow())
            return actor

    def start_web_session(  # noqa: PLR0917 - what a session row holds
        self,
        kind: str,
        subject: int,
        fingerprint: str,
        expires: dt.datetime,
        address: str,
        agent: str,
    ) -> str:
        """Record a log-in to the web pages (`kind` "customer" or "user"): the session's id,
        for its cookie."""
        from userman.services import web_sessions  # noqa: PLC0415

        who = web_sessions.Who(kind)
        with self.database.begin() as db:
            return web_sessions.start(
                db, who, subject, fingerprint, expires, address, agent, utcnow()
            )

    def end_web_session(self, sid: str) -> None:
        """Log out: the web session with this id ends on the server."""
        from userman.services import web_sessions  # noqa: PLC0415

        with self.database.begin() as db:
            web_sessions.end(db, sid)

    def web_sessions(self, actor: Actor, current: str | None = None) -> list[SessionInfo]:
        """The customer's live web sessions (the superuser: every customer's); the one whose id
        is `current` marked."""
        from userman.services import web_sessions  # noqa: PLC0415

        with self.database.begin() as db:
            return web_sessions.sessions(db, actor, utcnow(), current)

    def revoke_web_session(
        self, actor: Actor, session_id: int | None, keep: str | None = None
    ) -> int:
        """End one of the customer's web sessions, or all of them (None) but the one whose id
        is `keep`: how many ended."""
        from userman.services import web_sessions  # noqa: PLC0415

        with self.database.begin() as db:
            return web_sessions.revoke(db, actor, session_id, utcnow(), keep)

    def dashboard(self, actor: Actor) -> Dashboard:
        """The customer's status page: sessions, users, failures, today's traffic."""
        from userman.services import dashboard  # noqa: PLC0415 - only the web needs it

        with self.database.begin() as db:
            return dashboard.dashboard(db, actor, utcnow())

    def time_zone(self, actor: Actor) -> dt.tzinfo:
        """The zone the actor's pages show times in: its customer's `time-zone`."""
        from userman.services.facts import actor_time_zone  # noqa: PLC0415 - only the web

        with self.database.begin() as db:
            return actor_time_zone(db, actor)

    def upcoming(self, actor: Actor, verb: str) -> verbs.Item | None:
        """The history entry `history undo` (or `redo`) would take now; None: nothing."""
        from userman.services import history  # noqa: PLC0415 - only the web needs it

        with self.database.begin() as db:
            return history.upcoming(db, actor, verb)

    def listing(self, actor: Actor, menu_name: str, query: Query) -> Listing:
        """A page of a menu's items: searched, filtered, sorted and paged by the database."""
        from userman.services import listing  # noqa: PLC0415 - only the web needs it

        with self.database.begin() as db:
            return listing.listing(db, actor, MENUS[menu_name], query)

    def usage(self, actor: Actor, user: str, days: int = 30) -> list[Day]:
        """A user's download, upload and uptime per day over the last `days` days."""
        from userman.services import usage  # noqa: PLC0415 - only the web needs it

        with self.database.begin() as db:
            return usage.usage(db, actor, user, utcnow(), days)

    def token_actor(self, token: str) -> Actor:
        """The actor of an API request that carries a token."""
        from userman.services import tokens  # noqa: PLC0415 - only the web needs it

        with self.database.begin() as db:
            return tokens.actor_for(db, token, utcnow())

    def make_token(self, actor: Actor, name: str) -> str:
        from userman.services import tokens  # noqa: PLC0415

        with self.database.begin() as db:
            return tokens.make(db, actor, name, utcnow())

    def tokens(self, actor: Actor) -> list[TokenInfo]:
        from userman.services import tokens  # noqa: PLC0415

        with self.database.begin() as db:
            return tokens.tokens(db, actor)

    def revoke_token(self, actor: Actor, name: str) -> None:
        from userman.services import tokens  # noqa: PLC0415

        with self.database.begin() as db:
            tokens.revoke(db, actor, name)

    def secret(self, name: str) -> bytes:
        """A random key of the installation, the same on every node (web cookies)."""
        from userman.services import settings  # noqa: PLC0415

        with self.database.begin() as db:
            return settings.secret(db, name)

    @property
    def selfservice(self) -> SelfService:
        """The user page's use cases: what a user sees and changes of its own."""
        from userman.services.selfservice import SelfService  # noqa: PLC0415 - the web's

        return SelfService(self.database)

    @property
    def payments(self) -> Payments:
        """Buying profiles: payment rows, the gateway's reports, the customers' list."""
        from userman.services.payments import Payments  # noqa: PLC0415 - the web's

        return Payments(self.database)

    def report(self, actor: Actor, first: dt.date, last: dt.date, user: str = "") -> Report:
        """Time, traffic and money per user over a period (the customer page's Reports)."""
        from userman.services import reports  # noqa: PLC0415 - only the web needs it

        return reports.report(self.database, actor, first, last, user)

    # The subscriber's settings, mail, sign-up and vouchers (web pages and the REST API).

    def settings(
        self, actor: Actor, subscriber: str | None = None, *, show_sensitive: bool = False
    ) -> list[SettingValue]:
        from userman.services import subscriber_settings  # noqa: PLC0415

        with self.database.begin() as db:
            return subscriber_settings.values(db, actor, subscriber, show_sensitive=show_sensitive)

    def change_settings(
        self, actor: Actor, args: Mapping[str, str], subscriber: str | None = None
    ) -> None:
        """`settings set name=value ...` as one transaction and one history entry."""
        from userman.services import subscriber_settings  # noqa: PLC0415

        with self.database.begin() as db:
            subscriber_settings.change(db, actor, args, utcnow(), subscriber)

    def send_test_mail(self, actor: Actor, to: str) -> None:
        """Send a short mail through the subscriber's SMTP settings (MailError if it fails)."""
        from userman.services import mail, settings, subscriber_settings  # noqa: PLC0415

        with self.database.begin() as db:
            subscriber_settings.check_read(actor)
            subscriber_id = subscriber_settings.subscriber_of(db, actor)
            customer = db.get(models.Customer, actor.customer_id or subscriber_id)
            sender = customer.email if customer is not None else ""
            config = mail.SmtpConfig.from_settings(
                subscriber_settings.read(db, subscriber_id),
                fallback_sender=sender,
                allow_private=settings.allow_private_destinations(db),
            )
        body = "This is a test mail from userman: the SMTP settings work.\n"
        mail.send(config, mail.message(config, to, "userman test mail", body))

    def signup_place(self, subs: str | None) -> tuple[str, str]:
        """Where a sign-up form signs up: (the customer's company, its public-id), never its
        login, which the manual keeps secret; refused where sign-up is not allowed."""
        from userman.services import signup  # noqa: PLC0415

        with self.database.begin() as db:
            customer = signup.signup_customer(db, subs)
            return customer.company, customer.public_id

    def sign_up(self, subs: str | None, form: SignUpForm, link_base: str) -> None:
        """Send the activation mail, then add the disabled user (MailError: nothing added)."""
        from userman.services import mail, signup  # noqa: PLC0415

        with self.database.begin() as db:
            pending = signup.prepare(db, subs, form, link_base)
        mail.send(pending.smtp, pending.mail)
        with self.database.begin() as db:
            signup.create(db, pending, utcnow())

    def activate(self, key: str) -> tuple[str, str]:
        """Enable the signed-up user of an activation link: (username, customer's public-id)."""
        from userman.services import signup  # noqa: PLC0415

        with self.database.begin() as db:
            return signup.activate(db, key, utcnow())

    def vouchers(
        self, actor: Actor, keys: Sequence[str], *, page: bool = True
    ) -> tuple[list[Voucher], str]:
        """The users' vouchers, and their HTML from the subscriber's voucher template (a page
        holds at most vouchers.LIMIT; without `page`, for a CSV, any number and no HTML)."""
        from userman.services import vouchers  # noqa: PLC0415

        with self.database.begin() as db:
            found = vouchers.vouchers(db, actor, keys, vouchers.LIMIT if page else None)
            if not page:
                return found, ""
            if actor.subscriber_id is not None:
                subscriber_id = actor.subscriber_id
            else:
                first = verbs.find(db, actor, MENUS["user"], keys[0]) if keys else None
                subscriber_id = first.subscriber_id if first is not None else 0
            return found, vouchers.render(db, subscriber_id, found)

    def execute(
        self,
        actor: Actor,
        path: Sequence[str],
        verb: str,
        positional: Sequence[str] = (),
        args: Mapping[str, str] | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> Outcome:
        """Run `<menu> <verb> ...` as one transaction; on any error nothing is written."""
        request = Request(tuple(path), verb, tuple(positional), dict(args or {}))
        [outcome] = self.execute_many(actor, [request], progress=progress)
        return outcome

    def execute_many(
        self,
        actor: Actor,
        requests: Sequence[Request],
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Outcome]:
        """Run several commands (an imported script) as one transaction: all or nothing.

        An error says which command failed in its `request_index`.
        """
        if len(requests) == 1 and commands.is_maintenance(requests[0]):
            # Not one transaction: it opens its own (alone only: `commands.run` refuses it).
            return [commands.maintain(self.database, actor, requests[0], utcnow())]
        outcomes: list[Outcome] = []
        with self.database.begin() as db:
            for index, request in enumerate(requests):
                try:
                    outcome = commands.run(
                        db, actor, request, utcnow(), progress=progress, backup_dir=self.backup_dir
                    )
                    outcomes.append(outcome)
                except UsermanError as error:
                    error.request_index = index
                    raise
        return outcomes

    def execute_script(self, actor: Actor, requests: Sequence[Request]) -> list[Outcome]:
        """Run an imported script as one transaction, all or nothing, as `execute_many` does,
        with its many `user add`, `user-profile add` and `create-and-activate-profile` lines
        checked one by one and written in bulk (services/bulk.py): same rules, errors and
        history, a hundred times faster. Their outcomes are empty; an error says which command
        failed in its `request_index`."""
        from userman.services.bulk import Batch  # noqa: PLC0415 - only an import needs it

        outcomes: list[Outcome] = []
        with self.database.begin() as db:

            def run(request: Request, now: dt.datetime) -> Outcome:
                return commands.run(db, actor, request, now, backup_dir=self.backup_dir)

            batch = Batch(db, actor, run)
            for index, request in enumerate(requests):
                now = utcnow()
                try:
                    if batch.take(request, index, now):
                        outcomes.append(Outcome(None))
                        continue
                    batch.flush()
                    outcomes.append(run(request, now))
                    if request.verb not in commands.READ_VERBS:
                        batch.forget()
                except UsermanError as error:
                    if error.request_index is None:
                        error.request_index = index
                    raise
            try:
                batch.flush()
            except UsermanError as error:
                if error.request_index is None:
                    error.request_index = len(requests) - 1
                raise
        return outcomes

    # The RADIUS use cases; the server calls them from worker threads. They load the AAA
    # modules (and their crypto) only when called, so the CLI's menu commands stay light.

    def find_router(self, address: str) -> RouterInfo | None:
        from userman.services import aaa  # noqa: PLC0415

        return aaa.find_router(self.database, address)

    def router_stamp(self) -> str:
        """The digest of every router row (services/snapshot.py), for the server's cache."""
        from userman.services import snapshot  # noqa: PLC0415

        return snapshot.router_stamp(self.database)

    def router_snapshot(self) -> RouterSnapshot:
        """Every router by address, with the stamp of those rows."""
        from userman.services import snapshot  # noqa: PLC0415

        return snapshot.router_snapshot(self.database)

    @functools.cached_property
    def policy(self) -> PolicyCache:
        """The policy in memory that the server decides from (services/policy.py); empty
        until `load()`ed, which only `serve` does."""
        from userman.services.policy import PolicyCache  # noqa: PLC0415

        return PolicyCache(self.database)

    @property
    def policy_loaded(self) -> bool:
        """Whether the policy is in memory (for /readyz; from any thread, creating nothing)."""
        cache = self.__dict__.get("policy")
        return cache is not None and bool(cache.loaded)

    def ping(self) -> None:
        """Raise a DatabaseError (saying why) unless the database answers a query now."""
        with self.database.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    def pool_status(self) -> dict[str, int]:
        """This process's database connections, for /metrics: in-use and idle, and the pool's
        size (a pool that keeps no count, SQLite's in-memory one, has none)."""
        pool = self.database.engine.pool
        status = {}
        for name, method in (("in-use", "checkedout"), ("idle", "checkedin"), ("size", "size")):
            count = getattr(pool, method, None)
            if callable(count):
                status[name] = int(count())
        return status

    @functools.cached_property
    def nodes(self) -> Registry:
        """This process among the serving ones (services/nodes.py): `serve` joins."""
        from userman.services.nodes import Registry  # noqa: PLC0415

        return Registry(self.database, self.policy.claims)

    @property
    def node_id(self) -> int | None:
        """This process's row in server_node, once `serve` joined."""
        registry = self.__dict__.get("nodes")
        return None if registry is None else registry.node_id

    def decide(
        self, router: RouterInfo, request: AccessRequest, now: dt.datetime
    ) -> tuple[Decision, int | None] | None:
        """Decide from the policy in memory, storing nothing (services/access.py; alone, a
        shared-users place is claimed in memory); None: only the database can
        (`authenticate`)."""
        from userman.services import access  # noqa: PLC0415

        return access.decide(self.policy, router, request, now)

    def outer_auths(self, router: RouterInfo, username: str) -> frozenset[AuthMethod] | None:
        """The methods the user's group allows, from memory; None: any, or not known here
        (the decision refuses what is not allowed)."""
        from userman.services import access  # noqa: PLC0415

        return access.outer_auths(self.policy, router, username)

    def store_effects(
        self,
        router: RouterInfo,
        request: AccessRequest,
        decision: Decision,
        user_id: int,
        now: dt.datetime,
    ) -> bool:
        """Commit what a decision from memory changes; False: a row changed first."""
        from userman.services import access  # noqa: PLC0415

        return access.store_effects(
            self.database,
            router,
            request,
            decision,
            user_id=user_id,
            now=now,
            claims=self.policy.claims,
            node_id=self.node_id,
        )

    def store_effects_many(self, batch: Sequence[Effects]) -> list[bool]:
        """`store_effects` for each of a batch, in one commit (the server's writer)."""
        from userman.services import access  # noqa: PLC0415

        return access.store_effects_many(
            self.database, batch, claims=self.policy.claims, node_id=self.node_id
        )

    def log_decisions(self, items: Sequence[LogItem]) -> list[None]:
        from userman.services import access  # noqa: PLC0415

        return access.log_decisions(self.database, items)

    def store_last_seen(self, seen: Mapping[int, dt.datetime]) -> None:
        from userman.services import access  # noqa: PLC0415

        access.store_last_seen(self.database, seen)

    def authenticate(
        self,
        router: RouterInfo,
        request: AccessRequest,
        now: dt.datetime,
    ) -> Decision:
        from userman.services import aaa  # noqa: PLC0415

        return aaa.authenticate(
            self.database, router, request, now, claims=self.policy.claims, node_id=self.node_id
        )

    def log_failures(self, failures: Sequence[tuple[Failure, int]]) -> None:
        """Write dropped requests to their routers' logs (services/aaa.py)."""
        from userman.services import aaa  # noqa: PLC0415

        aaa.log_failures(self.database, failures)

    def note_signed(self, router_id: int, now: dt.datetime) -> bool:
        """Remember that an `auto` router signs its Access-Requests (services/aaa.py)."""
        from userman.services import aaa  # noqa: PLC0415

        return aaa.note_signed(self.database, router_id, now)

    def add_counters(self, counts: Mapping[tuple[int, str], int]) -> None:
        from userman.services import counters  # noqa: PLC0415

        counters.add(self.database, counts)

    def prune_coa(self, now: dt.datetime) -> int:
        from userman.services import coa  # noqa: PLC0415

        return coa.prune(self.database, now)

    def retain(self, now: dt.datetime) -> int:
        """Prune what the retention settings say is due (services/retention.py), for about
        RETAIN_BUDGET seconds; then again at the next call while more is left, else not for
        RETAIN_EVERY. How many rows were deleted."""
        from userman.services import retention  # noqa: PLC0415

        if now < self._retain_next:
            return 0
        pruned = retention.prune(self.database, now, budget=RETAIN_BUDGET)
        self._retain_next = now if pruned.more else now + RETAIN_EVERY
        return pruned.sessions + pruned.log

    def close_stale(self, older_than: dt.datetime, now: dt.datetime) -> int:
        from userman.services import accounting  # noqa: PLC0415

        return accounting.close_stale(self.database, older_than, now)

    def account(self, router: RouterInfo, record: AccountingRecord, now: dt.datetime) -> None:
        """Store one accounting record: a batch of one (returns once it is committed)."""
        self.account_batch([(router, record, now)])

    def account_many(self, items: Sequence[AccountingItem]) -> list[SessionState | None]:
        """Store several accounting records in one transaction, in their order (group commit)."""
        return self.account_batch(items).sessions

    def account_batch(self, items: Sequence[AccountingItem]) -> Accounted:
        """`account_many`, with the ids of the users whose usage or open sessions the batch
        changed (services/accounting.py); the policy in memory, when loaded, takes in what the
        batch wrote as it commits, without reading those users again."""
        from userman.services import accounting  # noqa: PLC0415

        policy = self._loaded_policy()
        # The claims in memory of the users whose sessions the batch inserted are taken over.
        started = policy.claims.started if policy is not None else None
        return accounting.account_batch(self.database, items, policy, started)

    def _loaded_policy(self) -> PolicyCache | None:
        """The policy in memory, when it is loaded (only `serve` loads it)."""
        policy = self.__dict__.get("policy")
        return policy if policy is not None and policy.loaded else None

    def enforce(self, now: dt.datetime) -> dt.datetime | None:
        """Recheck the open sessions of use-coa routers, queueing CoA/Disconnect-Requests where
        their limits changed (services/enforce.py); when to recheck next."""
        from userman.services import enforce  # noqa: PLC0415

        return enforce.sweep(self.database, now)

    def claim_coa(self, now: dt.datetime, limit: int) -> list[CoaJob]:
        """Take the Disconnect/CoA-Requests due for this node to send (see services/coa.py)."""
        from userman.services import coa  # noqa: PLC0415

        return coa.claim(self.database, now, limit)

    def record_coa(self, job: CoaJob, result: Result, now: dt.datetime) -> None:
        """Store what the router answered to a Disconnect/CoA-Request."""
        from userman.services import coa  # noqa: PLC0415

        coa.record(self.database, job, result, now)
