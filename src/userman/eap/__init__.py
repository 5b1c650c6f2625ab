"""EAP (RFC 3748) over RADIUS (RFC 3579): the conversation, its methods and their TLS."""
