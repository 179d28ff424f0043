"""JWT-SVIDs: a workload's SPIFFE identity for what leaves the TLS channel.

Theory of operation. A JWT-SVID is a JWS in compact form whose ``sub`` is a SPIFFE ID,
``aud`` names who may accept it and ``exp`` when it stops being valid (SPIFFE JWT-SVID
specification). The agent mints them (:meth:`zerotls.spiffe.WorkloadAPI.fetch_jwt_svid`)
and publishes each trust domain's signing keys as a JWK set (``FetchJWTBundles``). A
receiver either asks its own agent (``ValidateJWTSVID``) or checks the token here against
those bundles, as :func:`validate_jwt_svid` does, refusing with a specific reason:

- the header: ``alg`` one of RS/PS 256/384/512 or ES 256/384/512 (never ``none``, never an
  HMAC: a public key is not a shared secret), a ``kid``, ``typ`` absent or ``JWT``/``JOSE``;
- the key: the bundle of the trust domain that ``sub`` names holds ``kid``, of the type the
  ``alg`` needs, and the signature verifies with it (a key of one trust domain never vouches
  for another's IDs);
- the claims: ``sub`` a SPIFFE ID, the expected audience among ``aud``, ``exp`` in the
  future (a small leeway for clock skew, 30 s by default), ``nbf`` if given not in the future.

Like the HMAC envelopes (:mod:`zerotls.integrity`), a JWT-SVID is a bearer token: anyone who
holds it can replay it to the audience until it expires; keep lifetimes short and send it
only over TLS.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from zerotls.errors import ConfigError, VerificationError
from zerotls.tls.identity import parse_spiffe_id

__all__ = [
    "JWTBundle",
    "JWTSVID",
    "JWTSVIDError",
    "UnknownJWTKeyError",
    "parse_jwks",
    "read_jwt_svid",
    "validate_jwt_svid",
]

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

DEFAULT_LEEWAY: Final = 30.0
MAX_TOKEN: Final = 16 * 1024
"""Tokens longer than this are refused before they are decoded (a header's worth of bytes)."""

_HASH: Final[dict[str, Callable[[], hashes.HashAlgorithm]]] = {
    "256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512,
}  # fmt: skip
_CURVE: Final[dict[str, Callable[[], ec.EllipticCurve]]] = {
    "ES256": ec.SECP256R1, "ES384": ec.SECP384R1, "ES512": ec.SECP521R1,
}  # fmt: skip
_JWK_CURVE: Final[dict[str, Callable[[], ec.EllipticCurve]]] = {
    "P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1,
}  # fmt: skip
ALGORITHMS: Final = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", *_CURVE)


class JWTSVIDError(VerificationError):
    """A JWT-SVID that is malformed, expired, for another audience, or not signed by its
    trust domain's key; the message says which."""


class UnknownJWTKeyError(JWTSVIDError):
    """The token's trust domain or key ID is not in the bundles given: newer bundles (a key
    rotation, a new federation) may know it."""


@dataclass(frozen=True, slots=True)
class JWTSVID:
    """A JWT-SVID and what it claims (after :func:`validate_jwt_svid`: what it proved)."""

    token: str = field(repr=False)
    spiffe_id: str
    audience: tuple[str, ...]
    expires: dt.datetime
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False)
    hint: str = ""

    @property
    def trust_domain(self) -> str:
        return parse_spiffe_id(self.spiffe_id).trust_domain


@dataclass(frozen=True, slots=True)
class JWTBundle:
    """One trust domain's JWT signing keys, by key ID."""

    trust_domain: str
    keys: Mapping[str, PublicKey]


def _b64(part: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise JWTSVIDError(f"the JWT-SVID's {what} is not base64url") from None


def _json(part: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64(part, what))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise JWTSVIDError(f"the JWT-SVID's {what} is not JSON") from None
    if not isinstance(value, dict):
        raise JWTSVIDError(f"the JWT-SVID's {what} is not a JSON object")
    return value


def _int_b64(value: Any, what: str) -> int:
    if not isinstance(value, str):
        raise ConfigError(f"JWT bundle: {what} must be a base64url string")
    try:
        return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")
    except (binascii.Error, ValueError):
        raise ConfigError(f"JWT bundle: {what} is not base64url") from None


def parse_jwks(data: bytes | str, trust_domain: str) -> JWTBundle:
    """A JWK set (``{"keys": [...]}``, as a SPIFFE bundle publishes it) as a :class:`JWTBundle`.

    Keys without a ``kid``, of another use than ``jwt-svid`` (the X.509 authorities of a
    SPIFFE bundle say ``x509-svid``) or of an unknown type are skipped.

    Raises:
        ConfigError: not a JWK set, or a key that cannot be read.
    """
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"JWT bundle for {trust_domain}: not JSON ({exc})") from None
    items = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise ConfigError(f'JWT bundle for {trust_domain}: not a JWK set ({{"keys": [...]}})')
    keys: dict[str, PublicKey] = {}
    for jwk in items:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
            continue
        if jwk.get("use", "jwt-svid") != "jwt-svid":
            continue
        kty = jwk.get("kty")
        if kty == "EC" and jwk.get("crv") in _JWK_CURVE:
            curve = _JWK_CURVE[jwk["crv"]]()
            try:
                keys[jwk["kid"]] = ec.EllipticCurvePublicNumbers(
                    _int_b64(jwk.get("x"), "x"), _int_b64(jwk.get("y"), "y"), curve
                ).public_key()
            except ValueError:
                raise ConfigError(
                    f"JWT bundle for {trust_domain}: key {jwk['kid']!r} is not on {jwk['crv']}"
                ) from None
        elif kty == "RSA":
            numbers = rsa.RSAPublicNumbers(_int_b64(jwk.get("e"), "e"), _int_b64(jwk.get("n"), "n"))
            try:
                keys[jwk["kid"]] = numbers.public_key()
            except ValueError:
                raise ConfigError(
                    f"JWT bundle for {trust_domain}: key {jwk['kid']!r} is not an RSA key"
                ) from None
    return JWTBundle(trust_domain, keys)


def _split(token: str) -> tuple[str, str, str]:
    if not isinstance(token, str) or not token:
        raise JWTSVIDError("no JWT-SVID given")
    if len(token) > MAX_TOKEN:
        raise JWTSVIDError(f"the JWT-SVID is {len(token)} bytes long; at most {MAX_TOKEN}")
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise JWTSVIDError(
            "a JWT-SVID is a JWS in compact form (header.payload.signature), "
            f"this has {len(parts)} part(s)"
        )
    return parts[0], parts[1], parts[2]


def _claims(payload: dict[str, Any], audience: str | None, now: float, leeway: float) -> JWTSVID:
    sub = payload.get("sub")
    if not isinstance(sub, str):
        raise JWTSVIDError("the JWT-SVID has no sub claim (the SPIFFE ID)")
    try:
        spiffe_id = str(parse_spiffe_id(sub))
    except ConfigError as exc:
        raise JWTSVIDError(f"the JWT-SVID's sub is not a SPIFFE ID: {exc}") from None
    aud = payload.get("aud")
    auds = (aud,) if isinstance(aud, str) else tuple(aud) if isinstance(aud, list) else ()
    if not auds or not all(isinstance(a, str) and a for a in auds):
        raise JWTSVIDError(f"the JWT-SVID for {spiffe_id} has no audience (aud claim)")
    if audience is not None and audience not in auds:
        raise JWTSVIDError(
            f"the JWT-SVID for {spiffe_id} is for {', '.join(auds)}, not for {audience}: "
            "a token is accepted only by the audience it was minted for"
        )
    exp = payload.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise JWTSVIDError(f"the JWT-SVID for {spiffe_id} has no expiry (exp claim)")
    expires = dt.datetime.fromtimestamp(exp, dt.UTC)
    if exp + leeway <= now:
        raise JWTSVIDError(
            f"the JWT-SVID for {spiffe_id} expired at {expires:%Y-%m-%dT%H:%M:%SZ}; "
            "fetch a new one from the agent"
        )
    nbf = payload.get("nbf")
    if isinstance(nbf, int | float) and not isinstance(nbf, bool) and nbf - leeway > now:
        raise JWTSVIDError(f"the JWT-SVID for {spiffe_id} is not valid before {nbf:.0f}")
    return JWTSVID("", spiffe_id, auds, expires, payload)


def read_jwt_svid(
    token: str, *, audience: str | None = None, now: float | None = None, hint: str = ""
) -> JWTSVID:
    """What a JWT-SVID claims, with its claims checked but **not its signature**: for a token
    that came from our own agent. To accept a token from a peer use
    :func:`validate_jwt_svid`.

    Raises:
        JWTSVIDError: malformed, expired, or not for ``audience``.
    """
    header, payload, _sig = _split(token)
    _json(header, "header")
    claims = _claims(_json(payload, "payload"), audience, time.time() if now is None else now, 0.0)
    return JWTSVID(token.strip(), claims.spiffe_id, claims.audience, claims.expires,
                   claims.claims, hint)  # fmt: skip


def validate_jwt_svid(
    token: str,
    audience: str,
    bundles: Mapping[str, JWTBundle],
    *,
    now: float | None = None,
    leeway: float = DEFAULT_LEEWAY,
) -> JWTSVID:
    """Check a JWT-SVID a peer presented: signed by a key of the bundle of the trust domain
    its ``sub`` names, for ``audience``, not expired.

    Args:
        bundles: JWT bundles by trust domain (``example.org``), as
            :meth:`zerotls.spiffe.WorkloadAPI.jwt_bundles` returns them.

    Raises:
        JWTSVIDError: with the reason (see the module's docstring).
    """
    if not audience:
        raise ConfigError("validate_jwt_svid needs the audience we are (e.g. spiffe://...)")
    header_b64, payload_b64, sig_b64 = _split(token)
    header = _json(header_b64, "header")
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise JWTSVIDError(
            f"the JWT-SVID's algorithm {alg!r} is not allowed; a JWT-SVID is signed with one "
            f"of {', '.join(ALGORITHMS)} (never 'none', never an HMAC)"
        )
    if header.get("typ", "JWT") not in ("JWT", "JOSE"):
        raise JWTSVIDError(f"the JWT-SVID's typ {header.get('typ')!r} is not JWT or JOSE")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise JWTSVIDError("the JWT-SVID's header has no kid (key ID); it cannot be checked")
    payload = _json(payload_b64, "payload")
    # Which trust domain's keys may vouch for it is decided by the claim, then proved by
    # the signature; nothing else in the payload is trusted before that.
    sub = payload.get("sub")
    try:
        domain = parse_spiffe_id(sub if isinstance(sub, str) else "").trust_domain
    except ConfigError:
        raise JWTSVIDError("the JWT-SVID has no sub claim that is a SPIFFE ID") from None
    bundle = bundles.get(domain)
    if bundle is None:
        raise UnknownJWTKeyError(
            f"the JWT-SVID for {sub} is from trust domain {domain}, for which there is no "
            f"JWT bundle (bundles: {', '.join(sorted(bundles)) or 'none'})"
        )
    key = bundle.keys.get(kid)
    if key is None:
        raise UnknownJWTKeyError(
            f"the JWT-SVID for {sub} names key {kid!r}, which the {domain} bundle does not "
            "hold (an old or forged key; the agent's bundle may be newer)"
        )
    _verify(key, alg, f"{header_b64}.{payload_b64}".encode("ascii"), _b64(sig_b64, "signature"))
    checked = _claims(payload, audience, time.time() if now is None else now, leeway)
    return JWTSVID(token.strip(), checked.spiffe_id, checked.audience, checked.expires, payload)


def _verify(key: PublicKey, alg: str, signed: bytes, signature: bytes) -> None:
    digest = _HASH[alg[2:]]()
    try:
        if alg.startswith("ES"):
            if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != (
                _CURVE[alg]().name
            ):
                raise JWTSVIDError(f"the JWT-SVID says {alg}, but its key is not on that curve")
            size = (key.curve.key_size + 7) // 8
            if len(signature) != 2 * size:
                raise JWTSVIDError(f"the JWT-SVID's {alg} signature has the wrong length")
            r = int.from_bytes(signature[:size], "big")
            s = int.from_bytes(signature[size:], "big")
            key.verify(encode_dss_signature(r, s), signed, ec.ECDSA(digest))
        else:
            if not isinstance(key, rsa.RSAPublicKey):
                raise JWTSVIDError(f"the JWT-SVID says {alg}, but its key is not an RSA key")
            pad: padding.AsymmetricPadding = (
                padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
                if alg.startswith("PS")
                else padding.PKCS1v15()
            )
            key.verify(signature, signed, pad, digest)
    except InvalidSignature:
        raise JWTSVIDError(
            "the JWT-SVID's signature does not verify with its trust domain's key: it was "
            "altered or forged"
        ) from None
