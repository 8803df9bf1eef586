"""Unguessable public references for reports, e.g. PX-7K3M9QW2TD (Crockford base32, 50 bits)."""
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_reference() -> str:
    return "PX-" + "".join(secrets.choice(ALPHABET) for _ in range(10))


def looks_like_reference(value: str) -> bool:
    return len(value) == 13 and value.startswith("PX-") and all(c in ALPHABET for c in value[3:])
