"""The embedded node's account: the signer of every PayForBlobs, with a balance, as ``state.*`` shows it.

A celestia-node submits blobs from a key in its keyring and reports that account through
``state.AccountAddress`` (a bech32 ``celestia1...`` address) and ``state.Balance`` (an ``sdk.Coin``,
``{"denom": "utia", "amount": "<decimal string>"}``). The embedded node has one such account, a
development account whose 20-byte address is derived from a fixed seed, so it is the same on every
node. Gas is not charged (CELESTIA.md §8 models only the price ceiling), so the balance does not
change.

Share-version-1 blobs must name this account as their ``signer`` (CIP-21; celestia-app refuses
others with ``invalid blob signer``), and a ``TxConfig.signer_address`` or ``key_name`` that is not
this account is refused as celestia-node refuses a key absent from its keyring.

Addresses are bech32 (BIP-173) with the human-readable part ``celestia``.
"""

from __future__ import annotations

import hashlib
from typing import Final

from zkagg._errors import InvalidArgument

__all__ = [
    "DEV_ACCOUNT",
    "DEV_ADDRESS",
    "DEV_BALANCE_UTIA",
    "DEV_KEY_NAME",
    "bech32_decode",
    "bech32_encode",
]

_CHARSET: Final = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GENERATORS: Final = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
HRP: Final = "celestia"


def _polymod(values: list[int]) -> int:
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i, generator in enumerate(_GENERATORS):
            if (top >> i) & 1:
                check ^= generator
    return check


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    acc = bits = 0
    out: list[int] = []
    for value in data:
        acc = acc << from_bits | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append(acc >> bits & (1 << to_bits) - 1)
    if pad and bits:
        out.append(acc << (to_bits - bits) & (1 << to_bits) - 1)
    elif not pad and (bits >= from_bits or acc << (to_bits - bits) & (1 << to_bits) - 1):
        raise InvalidArgument("address has non-zero padding bits")
    return out


def bech32_encode(data: bytes, hrp: str = HRP) -> str:
    """Encode ``data`` (an account's 20 bytes) as bech32 with ``hrp``."""
    words = _convert_bits(data, 8, 5, pad=True)
    polymod = _polymod([*_hrp_expand(hrp), *words, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[w] for w in words + checksum)


def bech32_decode(text: str, hrp: str = HRP) -> bytes:
    """Decode a bech32 address with ``hrp`` into its bytes.

    Raises
    ------
    InvalidArgument
        If ``text`` is not bech32 with that prefix and a valid checksum.
    """
    lowered = text.lower()
    prefix, sep, rest = lowered.rpartition("1")
    if not sep or prefix != hrp or len(rest) < 6 or any(c not in _CHARSET for c in rest):
        raise InvalidArgument(f"address must be bech32 with prefix {hrp!r}, not {text!r}")
    words = [_CHARSET.index(c) for c in rest]
    if _polymod([*_hrp_expand(hrp), *words]) != 1:
        raise InvalidArgument(f"address {text!r} has a wrong bech32 checksum")
    return bytes(_convert_bits(words[:-6], 5, 8, pad=False))


#: The account's 20-byte address (also the ``signer`` of share-version-1 blobs).
DEV_ACCOUNT: Final = hashlib.sha256(b"zkagg embedded node dev account").digest()[:20]
#: Its bech32 form, what ``state.AccountAddress`` answers.
DEV_ADDRESS: Final = bech32_encode(DEV_ACCOUNT)
#: Its keyring name (celestia-node's default key name).
DEV_KEY_NAME: Final = "my_celes_key"
#: Its balance in utia: 1,000,000 TIA; constant, since gas is not charged.
DEV_BALANCE_UTIA: Final = 1_000_000_000_000
