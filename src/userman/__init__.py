"""userman: a RADIUS AAA server with a multi-tenant management layer.

It does what MikroTik User Manager does, on an ordinary server. The package layout and the
direction of imports are described in DESIGN.md; see README.md to run it.
"""

__version__ = "0.1.0"
