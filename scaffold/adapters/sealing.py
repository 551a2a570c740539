"""Seal Actions secrets for GitHub: libsodium's sealed box (PyNaCl).

GitHub stores a repository secret only as ``encrypted_value``: the value sealed
to the repository's Actions public key (``GET .../actions/secrets/public-key``,
base64) with ``crypto_box_seal``, then base64-encoded. Only GitHub holds the
private key; nothing here can decrypt.
"""

from __future__ import annotations

import base64
import binascii

from pydantic import SecretStr

from scaffold.errors import ForgeError


def seal(public_key_b64: str, value: SecretStr) -> str:
    """``value`` sealed to the base64 ``public_key_b64``, as base64 text."""
    from nacl.exceptions import CryptoError
    from nacl.public import PublicKey, SealedBox

    try:
        key = PublicKey(base64.b64decode(public_key_b64, validate=True))
    except (binascii.Error, ValueError, CryptoError, TypeError):
        raise ForgeError(
            "actions secrets public key: not a base64 Curve25519 key"
        ) from None
    sealed = SealedBox(key).encrypt(value.get_secret_value().encode("utf-8"))
    return base64.b64encode(sealed).decode("ascii")
