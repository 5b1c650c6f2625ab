"""The web adapter: the REST API under /api, the customer pages under /userman and the user
page under /user, served by `userman serve` beside the RADIUS ports."""
