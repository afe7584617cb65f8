"""Pure-Python Ed25519 signature verification (RFC 8032 section 5.1.7), standard library only.

The trusted core may not import `cryptography`, so the verifier checks bundle signatures with this
module. It only verifies: it never signs and never sees a private key (signing is
`proxy.assurance.signing`).

Verification follows RFC 8032 5.1.7 in the cofactorless form used by OpenSSL and therefore by
`cryptography`: decode A (5.1.3, rejecting non-canonical encodings), reject S >= L, compute
k = SHA-512(R || A || M) mod L and accept iff encode([S]B + [k](-A)) equals the 32 bytes of R.
Comparing encodings rejects a non-canonical R as well. Integer arithmetic over GF(2^255 - 19) in
extended twisted-Edwards coordinates (RFC 8032 5.1.4). Not constant time: it handles public data.
"""

from __future__ import annotations

import hashlib

__all__ = ["PUBLIC_KEY_BYTES", "SIGNATURE_BYTES", "verify_signature"]

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64

# RFC 8032 5.1: field prime, curve constant d, group order L, base point B.
_P = 2**255 - 19
_D = (-121665 * pow(121666, -1, _P)) % _P
_L = 2**252 + 27742317777372353535851937790883648493
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)

# Extended coordinates (X, Y, Z, T) with x = X/Z, y = Y/Z, xy = T/Z.
_Point = tuple[int, int, int, int]


def _recover_x(y: int, sign: int) -> int | None:
    """RFC 8032 5.1.3 steps 2-4: the x with the given parity on the curve at y, or None."""
    if y >= _P:
        return None
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x = (u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P)) % _P
    vx2 = (v * x * x) % _P
    if vx2 == u:
        pass
    elif vx2 == (-u) % _P:
        x = (x * _SQRT_M1) % _P
    else:
        return None
    if x == 0 and sign == 1:
        return None
    if x & 1 != sign:
        x = _P - x
    return x


def _decode_point(encoded: bytes) -> _Point | None:
    """RFC 8032 5.1.3: decode 32 bytes to a point, or None when the encoding is invalid."""
    value = int.from_bytes(encoded, "little")
    sign = value >> 255
    y = value & ((1 << 255) - 1)
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, (x * y) % _P)


def _encode_point(point: _Point) -> bytes:
    """RFC 8032 5.1.2: the canonical 32-byte encoding of a point."""
    x_proj, y_proj, z, _ = point
    z_inv = pow(z, -1, _P)
    x = (x_proj * z_inv) % _P
    y = (y_proj * z_inv) % _P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _add(p: _Point, q: _Point) -> _Point:
    """RFC 8032 5.1.4 point addition (add-2008-hwcd-3, a = -1)."""
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = ((y1 - x1) * (y2 - x2)) % _P
    b = ((y1 + x1) * (y2 + x2)) % _P
    c = (2 * _D * t1 * t2) % _P
    d = (2 * z1 * z2) % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return ((e * f) % _P, (g * h) % _P, (f * g) % _P, (e * h) % _P)


def _double(p: _Point) -> _Point:
    """RFC 8032 5.1.4 point doubling (dbl-2008-hwcd, a = -1)."""
    x1, y1, z1, _ = p
    a = (x1 * x1) % _P
    b = (y1 * y1) % _P
    c = (2 * z1 * z1) % _P
    h = a + b
    e = h - ((x1 + y1) * (x1 + y1)) % _P
    g = a - b
    f = c + g
    return ((e * f) % _P, (g * h) % _P, (f * g) % _P, (e * h) % _P)


def _negate(p: _Point) -> _Point:
    """The point -P: (x, y) -> (-x, y)."""
    x, y, z, t = p
    return ((-x) % _P, y, z, (-t) % _P)


_IDENTITY: _Point = (0, 1, 1, 0)
# RFC 8032 5.1: B = (x, 4/5) with x even.
_BASE_X = 15112221349535400772501151409588531511454012693041857206046113283949847762202
_BASE_Y = 46316835694926478169428394003475163141307993866256225615783033603165251855960
_BASE: _Point = (_BASE_X, _BASE_Y, 1, (_BASE_X * _BASE_Y) % _P)


def _double_scalar_mult(s: int, p: _Point, k: int, q: _Point) -> _Point:
    """[s]P + [k]Q by Straus-Shamir joint double-and-add."""
    p_plus_q = _add(p, q)
    acc = _IDENTITY
    for bit in range(max(s.bit_length(), k.bit_length()) - 1, -1, -1):
        acc = _double(acc)
        s_bit = (s >> bit) & 1
        k_bit = (k >> bit) & 1
        if s_bit and k_bit:
            acc = _add(acc, p_plus_q)
        elif s_bit:
            acc = _add(acc, p)
        elif k_bit:
            acc = _add(acc, q)
    return acc


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True iff `signature` is a valid Ed25519 signature of `message` by `public_key` (RFC 8032).

    Malformed input (wrong lengths, non-canonical encodings, S >= L) yields False, never raises.
    """
    if len(public_key) != PUBLIC_KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    point_a = _decode_point(public_key)
    if point_a is None:
        return False
    r_bytes = signature[:32]
    s = int.from_bytes(signature[32:], "little")
    if s >= _L:
        return False
    digest = hashlib.sha512(r_bytes + public_key + message).digest()
    k = int.from_bytes(digest, "little") % _L
    r_check = _double_scalar_mult(s, _BASE, k, _negate(point_a))
    return _encode_point(r_check) == r_bytes
