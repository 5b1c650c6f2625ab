"""FreeRADIUS 3.2 beside userman: Debian's package, installed when missing, configured in a
temporary directory (never /etc/freeradius, never the system service) with the benchmark's users.

Two configurations, each its own server: `files` (users in mods-config/files/authorize, read into
memory at start; accounting to the `detail` file) and `sql` (rlm_sql on SQLite in WAL mode with
the stock schema: the password in radcheck, the user in the group `bench` in radusergroup, the
rate limit in radgroupreply; accounting to radacct with the stock queries). Both run one lean
virtual server on loopback: no proxying, EAP, realms, post-auth logging or debug output.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterable, Sequence
from contextlib import closing
from pathlib import Path

from population import (
    INTERIM_SECONDS,
    RATE_LIMIT,
    ROUTER_ADDRESS,
    SECRET,
    password,
    user_name,
)

STOCK = Path("/etc/freeradius/3.0")  # Debian's configuration: copied, never changed
PACKAGES = ("freeradius", "freeradius-utils")
MODULES = {
    "files": ("always", "expr", "pap", "chap", "mschap", "files", "detail"),
    "sql": ("always", "expr", "pap", "chap", "mschap", "sql"),
}
FLAVORS = {
    "files": (
        "Debian's configuration in a temporary directory, one virtual server (chap, mschap, "
        "files, pap; no proxy, EAP, realms or post-auth log), the users in "
        "mods-config/files/authorize read into memory at start; accounting to the detail "
        "file (written, not fsynced); the stock thread pool (5 to 32 threads)"
    ),
    "sql": (
        "the same virtual server with rlm_sql instead of files: stock SQLite schema and "
        "queries, WAL mode, synchronous=FULL (SQLite's default), the password in radcheck, "
        "the user in the group bench (radusergroup) whose radgroupreply holds the rate limit; "
        "accounting to radacct; the stock connection pool and busy_timeout (200 ms)"
    ),
}


def binary() -> str | None:
    return shutil.which("freeradius") or shutil.which("radiusd", path="/usr/sbin:/usr/bin")


def install(log: Path) -> str | None:
    """Install Debian's FreeRADIUS when it is missing; None when it is there, else why not.

    rlm_sql_sqlite is in the `freeradius` package itself on Debian 12. Installing starts
    Debian's own service on its standard ports (unless policy-rc.d forbids it): the benchmark
    never uses or stops it, and binds its own servers to other ports.
    """
    if binary() and STOCK.is_dir():
        return None
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if prefix and not shutil.which("sudo"):
        return "FreeRADIUS is missing and installing it needs root (apt-get install freeradius)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with log.open("a") as out:
        for command in (
            [*prefix, "apt-get", "install", "-y", *PACKAGES],
            [*prefix, "apt-get", "update"],
            [*prefix, "apt-get", "install", "-y", *PACKAGES],
        ):
            try:
                done = subprocess.run(
                    command, stdout=out, stderr=out, env=env, timeout=900, check=False
                )
            except (OSError, subprocess.TimeoutExpired) as error:
                return f"{' '.join(command)} failed: {error}"
            if done.returncode == 0 and "install" in command and binary():
                return None
    return f"apt-get install {' '.join(PACKAGES)} failed (see {log})"


def version() -> str:
    found = binary()
    if found is None:
        return "not installed"
    try:
        out = subprocess.run(
            [found, "-v"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    first = out.splitlines()[0] if out else ""
    return first.split("Version ", 1)[-1].split(",")[0].strip() if "Version" in first else first


def configure(folder: Path, flavor: str, users: int, auth_port: int, acct_port: int) -> Path:
    """A configuration directory for `flavor` (files or sql) with `users` users; returns it."""
    if flavor not in FLAVORS:
        raise ValueError(f"unknown FreeRADIUS flavor {flavor!r}")
    confdir = folder / f"raddb-{flavor}"
    shutil.copytree(STOCK, confdir, symlinks=True)
    for leftover in ("sites-enabled", "mods-enabled"):
        shutil.rmtree(confdir / leftover)
        (confdir / leftover).mkdir()
    for module in MODULES[flavor]:
        (confdir / "mods-enabled" / module).symlink_to(f"../mods-available/{module}")
    for sub in ("log", "run", "radacct"):
        (folder / f"fr-{flavor}" / sub).mkdir(parents=True, exist_ok=True)
    state = folder / f"fr-{flavor}"
    (confdir / "radiusd.conf").write_text(_radiusd_conf(confdir, state))
    (confdir / "clients.conf").write_text(_clients_conf())
    database = state / "radius.sqlite"
    sql = (STOCK / "mods-available" / "sql").read_text()
    for stock, ours in (
        ('driver = "rlm_sql_null"', 'driver = "rlm_sql_sqlite"'),
        ('filename = "/tmp/freeradius.db"', f'filename = "{database}"'),
    ):
        if stock not in sql:
            raise RuntimeError(f"{STOCK}/mods-available/sql has no `{stock}` to replace")
        sql = sql.replace(stock, ours)
    (confdir / "mods-available" / "sql").unlink()
    (confdir / "mods-available" / "sql").write_text(sql)
    (confdir / "sites-enabled" / "bench").write_text(_site(flavor, auth_port, acct_port))
    authorize = confdir / "mods-config" / "files" / "authorize"
    authorize.unlink()
    with authorize.open("w") as out:
        if flavor == "files":
            out.writelines(_users_file(users))
    if flavor == "sql":
        _sqlite(database, confdir / "mods-config" / "sql" / "main" / "sqlite" / "schema.sql", users)
    return confdir


def command(confdir: Path) -> list[str]:
    """FreeRADIUS in the foreground with `confdir`, logging to its own file."""
    found = binary()
    if found is None:
        raise RuntimeError("FreeRADIUS is not installed")
    return [found, "-f", "-d", str(confdir), "-n", "radiusd"]


def log_file(confdir: Path) -> Path:
    return confdir.parent / confdir.name.replace("raddb-", "fr-") / "log" / "radius.log"


def _radiusd_conf(confdir: Path, state: Path) -> str:
    """Debian's radiusd.conf, its paths moved to the temporary directory, no user switch (the
    files are root's), no proxying; the thread pool and request limits as shipped."""
    return f"""\
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = {state}
sbindir = /usr/sbin
logdir = {state}/log
raddbdir = {confdir}
radacctdir = {state}/radacct
name = radiusd
confdir = ${{raddbdir}}
modconfdir = ${{confdir}}/mods-config
certdir = ${{confdir}}/certs
cadir = ${{confdir}}/certs
run_dir = {state}/run
db_dir = {state}
libdir = /usr/lib/freeradius
pidfile = ${{run_dir}}/radiusd.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 16384
hostname_lookups = no
log {{
	destination = files
	colourise = no
	file = ${{logdir}}/radius.log
	syslog_facility = daemon
	stripped_names = no
	auth = no
	auth_badpass = no
	auth_goodpass = no
}}
security {{
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = 1
	status_server = yes
}}
proxy_requests = no
$INCLUDE clients.conf
thread pool {{
	start_servers = 5
	max_servers = 32
	min_spare_servers = 3
	max_spare_servers = 10
	max_requests_per_server = 0
	auto_limit_acct = no
}}
modules {{
	$INCLUDE mods-enabled/
}}
instantiate {{
}}
policy {{
	$INCLUDE policy.d/
}}
$INCLUDE sites-enabled/
"""


def _clients_conf() -> str:
    return f"""\
client bench {{
	ipaddr = {ROUTER_ADDRESS}
	secret = {SECRET.decode()}
	require_message_authenticator = yes
	nas_type = other
}}
"""


def _site(flavor: str, auth_port: int, acct_port: int) -> str:
    """The one virtual server: authorize from `files` or `sql`, authenticate by PAP, CHAP or
    MS-CHAP, account to `detail` or `sql`."""
    store = "files" if flavor == "files" else "sql"
    methods = (("PAP", "pap"), ("CHAP", "chap"), ("MS-CHAP", "mschap"))
    return site(
        auth_port,
        acct_port,
        authorize=["chap", "mschap", store, "pap"],
        authenticate=[
            line for kind, module in methods for line in block(f"Auth-Type {kind}", module)
        ],
        accounting="detail" if flavor == "files" else "sql",
        reject="ok",
    )


def site(
    auth_port: int,
    acct_port: int,
    *,
    authorize: Sequence[str],
    authenticate: Sequence[str],
    accounting: str,
    reject: str,
) -> str:
    """The virtual server `bench` listening on the router's address: the `authorize` section's
    lines, then Status-Server answered; the `authenticate` section's lines; accounting records
    made unique, then written by the `accounting` module; `reject` the module for a reject."""
    sections = [
        *(
            block("listen", f"type = {kind}", f"ipaddr = {ROUTER_ADDRESS}", f"port = {port}")
            for kind, port in (("auth", auth_port), ("acct", acct_port))
        ),
        block("authorize", *authorize, *block("Autz-Type Status-Server", "ok")),
        block("authenticate", *authenticate),
        block("preacct", "acct_unique"),
        block("accounting", accounting),
        block("post-auth", *block("Post-Auth-Type REJECT", reject)),
    ]
    lines = ["server bench {", *(line for section in sections for line in section), "}"]
    return "".join(f"{line}\n" for line in lines)


def block(name: str, *lines: str) -> list[str]:
    """`name { ... }` as configuration lines, `lines` indented within it by a tab."""
    return [f"{name} {{", *(f"\t{line}" for line in lines), "}"]


def _users_file(users: int) -> Iterable[str]:
    for n in range(users):
        yield (
            f'{user_name(n)}\tCleartext-Password := "{password(n)}"\n'
            f'\tMikrotik-Rate-Limit := "{RATE_LIMIT}",\n'
            f"\tAcct-Interim-Interval := {INTERIM_SECONDS}\n\n"
        )


def _sqlite(database: Path, schema: Path, users: int) -> None:
    """The stock SQLite schema in WAL mode, with the users and their group's reply."""
    with closing(sqlite3.connect(database)) as db, db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(schema.read_text())
        db.executemany(
            "INSERT INTO radcheck (username, attribute, op, value) "
            "VALUES (?, 'Cleartext-Password', ':=', ?)",
            ((user_name(n), password(n)) for n in range(users)),
        )
        db.executemany(
            "INSERT INTO radusergroup (username, groupname, priority) VALUES (?, 'bench', 1)",
            ((user_name(n),) for n in range(users)),
        )
        db.executemany(
            "INSERT INTO radgroupreply (groupname, attribute, op, value) "
            "VALUES ('bench', ?, ':=', ?)",
            (("Mikrotik-Rate-Limit", RATE_LIMIT), ("Acct-Interim-Interval", str(INTERIM_SECONDS))),
        )
    with closing(sqlite3.connect(database)) as db:
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    if mode != "wal":
        raise RuntimeError(f"{database} is in {mode} mode, not WAL")
