"""`userman settings print|set`: the subscriber's settings from the shell, as on the settings
page and the REST API (services/subscriber_settings.py), printed as RouterOS prints a menu of one
item (`name: value` lines)."""

from __future__ import annotations

import json

from click.testing import Result


def shown(result: Result) -> dict[str, str]:
    lines = (
        line.split(": ", 1) if ": " in line else (line.rstrip(":"), "")
        for line in result.stdout.splitlines()
    )
    return {name.strip(): value for name, value in lines}


def test_set_and_print_the_settings(run) -> None:  # type: ignore[no-untyped-def]
    before = shown(run("settings", "print"))
    assert (before["smtp-port"], before["smtp-server"]) == ("25", "")
    run("settings", "set", "smtp-server=mail.example", "smtp-port=587", "smtp-password=s3cret")
    after = shown(run("settings", "print"))
    assert (after["smtp-server"], after["smtp-port"], after["smtp-password"]) == (
        "mail.example",
        "587",
        "",  # a secret shows only with show-sensitive
    )
    assert shown(run("settings", "print", "show-sensitive"))["smtp-password"] == "s3cret"
    # Values with spaces or new lines are quoted as RouterOS quotes them.
    assert shown(run("settings", "print"))["signup-subject"] == '"Activate your account"'
    [item] = json.loads(run("--json", "settings", "print").stdout)
    assert item["smtp-port"] == "587"


def test_a_change_is_one_history_entry_that_undo_reverts(run) -> None:  # type: ignore[no-untyped-def]
    run("settings", "set", "smtp-server=mail.example", "smtp-from=desk@isp.example")
    assert "UMS settings changed" in run("history", "print").stdout
    run("history", "undo")
    assert shown(run("settings", "print"))["smtp-server"] == ""


def test_bad_settings_change_nothing(run) -> None:  # type: ignore[no-untyped-def]
    unknown = run("settings", "set", "smtp-server=a", "nonsense=1", ok=False)
    assert (unknown.exit_code, unknown.stderr) == (
        1,
        "failure: nonsense: unknown property of settings\n",
    )
    bad = run("settings", "set", "smtp-port=70000", ok=False)
    assert bad.exit_code == 1
    assert bad.stderr.startswith("failure: smtp-port: ")
    assert shown(run("settings", "print"))["smtp-server"] == ""
    run("customer", "add", "login=viewer", "parent=admin", "permissions=read-only")
    refused = run("--as", "viewer", "settings", "set", "smtp-server=x", ok=False)
    assert refused.exit_code == 1
    assert "permissions" in refused.stderr


def test_export_writes_the_settings_for_who_may_read_them(run) -> None:  # type: ignore[no-untyped-def]
    run("settings", "set", "smtp-server=mail.example", "smtp-password=pw")
    assert "set subscriber=admin smtp-server=mail.example\n" in run("export").stdout
    assert "smtp-password=pw" in run("export", "--show-sensitive").stdout
    run("customer", "add", "login=viewer", "parent=admin", "permissions=read-only")
    assert "settings" not in run("--as", "viewer", "export").stdout  # the rest still exports


def test_a_customer_exports_only_its_own_subscriber_s_settings(run) -> None:  # type: ignore[no-untyped-def]
    run("settings", "set", "smtp-server=admin.example")
    run("customer", "add", "login=isp2", "password=two")  # a second subscriber
    run("settings", "set", "subscriber=isp2", "smtp-server=isp2.example")
    mine = run("--as", "isp2", "export").stdout
    assert "isp2.example" in mine
    assert "admin.example" not in mine
    both = run("export").stdout
    assert "set subscriber=admin smtp-server=admin.example" in both
    assert "set subscriber=isp2 smtp-server=isp2.example" in both
