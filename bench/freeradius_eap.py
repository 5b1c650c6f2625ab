"""FreeRADIUS 3.2 with its `eap` module for PEAP, beside userman's PEAP (bench/eap.py).

bench/freeradius.py's `files` server (Debian's configuration copied to a temporary directory,
the users in mods-config/files/authorize), its one virtual server replaced by an outer one that
hands EAP to the `eap` module and an `inner-tunnel` one that checks the inner EAP-MSCHAPv2
through `mschap` against the same `files` users. The `eap` module does PEAP (version 0, inner
EAP-MSCHAPv2) with userman's own server certificate and CA (made by `userman certificate`),
TLS 1.2 only (FreeRADIUS 3.2's default maximum), and its TLS session cache on, so that a peer
may resume: FreeRADIUS 3.2 has disabled OpenSSL's in-memory cache and keeps sessions only in
`persist_dir` (two files per session, on the temporary directory's file system), which needs
the cache's `name`.
"""

from __future__ import annotations

from pathlib import Path

import freeradius

FLAVOR = (
    "Debian's configuration in a temporary directory, the `eap` module doing PEAPv0 with "
    "inner EAP-MSCHAPv2 (mschap against the users in mods-config/files/authorize, read into "
    "memory at start) in an inner-tunnel virtual server; the same server certificate and CA "
    "as userman; TLS 1.2 (FreeRADIUS 3.2's default maximum); TLS session cache on (3.2 "
    "keeps it on disk only: persist_dir, two files per session, in the temporary directory); "
    "on resumption FreeRADIUS's PEAP skips the inner method (its default); "
    "the stock thread pool (5 to 32 threads)"
)


def configure(
    folder: Path, users: int, auth_port: int, acct_port: int, *, server_pem: Path, ca_pem: Path
) -> Path:
    """A configuration directory under `folder` for PEAP with `users` users; returns it.

    `server_pem` holds the server's certificate, its CA's, and its private key (what
    `userman certificate export NAME include-key` writes); `ca_pem` the CA.
    """
    confdir = freeradius.configure(folder, "files", users, auth_port, acct_port)
    cache_dir = freeradius.log_file(confdir).parent.parent / "tlscache"
    cache_dir.mkdir(mode=0o700)
    (confdir / "mods-enabled" / "eap").write_text(_eap(server_pem, ca_pem, cache_dir))
    (confdir / "sites-enabled" / "bench").write_text(_outer(auth_port, acct_port))
    (confdir / "sites-enabled" / "inner-tunnel").write_text(_inner())
    return confdir


def _eap(server_pem: Path, ca_pem: Path, cache_dir: Path) -> str:
    return f"""\
eap {{
	default_eap_type = peap
	timer_expire = 60
	ignore_unknown_eap_types = no
	cisco_accounting_username_bug = no
	max_sessions = ${{max_requests}}
	tls-config tls-common {{
		private_key_file = {server_pem}
		certificate_file = {server_pem}
		ca_file = {ca_pem}
		cipher_list = "DEFAULT"
		cipher_server_preference = no
		tls_min_version = "1.2"
		tls_max_version = "1.2"
		ecdh_curve = ""
		cache {{
			enable = yes
			lifetime = 24
			name = "bench"
			persist_dir = "{cache_dir}"
		}}
		verify {{
		}}
	}}
	peap {{
		tls = tls-common
		default_eap_type = mschapv2
		copy_request_to_tunnel = no
		use_tunneled_reply = no
		virtual_server = "inner-tunnel"
	}}
	mschapv2 {{
	}}
}}
"""


def _outer(auth_port: int, acct_port: int) -> str:
    """The outer virtual server: EAP handed to the `eap` module, Status-Server answered,
    accounting to `detail`."""
    return freeradius.site(
        auth_port,
        acct_port,
        authorize=freeradius.block("eap", "ok = return"),
        authenticate=["eap"],
        accounting="detail",
        reject="eap",
    )


def _inner() -> str:
    return """\
server inner-tunnel {
authorize {
	mschap
	eap {
		ok = return
	}
	files
}
authenticate {
	Auth-Type MS-CHAP {
		mschap
	}
	eap
}
post-auth {
	Post-Auth-Type REJECT {
		ok
	}
}
}
"""
