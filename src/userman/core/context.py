"""Where a request comes from: what the router reports of the user's port and addresses.

Both the log (for every request the router's `log` flags ask for) and the session (for
accounting) record these, with the manual's names: nas-port, nas-port-type, nas-port-id,
calling-station-id, user-ip, host-ip and acct-session-id.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RequestContext"]


@dataclass(frozen=True, slots=True)
class RequestContext:
    nas_port: int | None = None
    nas_port_type: str = ""  # the NAS-Port-Type VALUE name in lower case, e.g. "ethernet"
    nas_port_id: str = ""
    calling_station_id: str = ""
    user_ip: str = ""  # Framed-IP-Address
    host_ip: str = ""  # NAS-IP-Address, or else the address the request came from
    acct_session_id: str = ""

    # The columns of a session or log row these fill, by the same names.
    COLUMNS = (
        "nas_port",
        "nas_port_type",
        "nas_port_id",
        "calling_station_id",
        "user_ip",
        "host_ip",
        "acct_session_id",
    )
