"""JWT-SVIDs over the real Workload API protocol: fetched from the agent (minted there with
PyJWT, an implementation that is not ours), validated here against the agent's JWT bundles
and by the agent, and the negative twins: another audience, expired, ``alg: none``, an HMAC
made with the public key, an unknown key, a trust domain with no bundle, a key of one trust
domain signing another's ID, a changed payload; and hostile tokens never raise anything else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("grpc", reason="grpcio is not installed (pip install 'zerotls[spiffe]')")
pytest.importorskip("jwt", reason="PyJWT is not installed (it is in the dev extra)")

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.spiffe.agent import Agent, Identity
from zerotls.errors import ConfigError
from zerotls.pki import CA
from zerotls.spiffe import WorkloadAPI, WorkloadAPIError
from zerotls.spiffe.jwt import JWTBundle, JWTSVIDError, parse_jwks, validate_jwt_svid

A, B = "a.example", "b.example"
WEB, DB = f"spiffe://{A}/web", f"spiffe://{A}/db"


@pytest.fixture
def agent() -> Iterator[Agent]:
    sockdir = Path(tempfile.mkdtemp(prefix="zt-jw-", dir="/tmp"))
    made = Agent(sockdir / "agent.sock", Identity(WEB, CA.create("trust domain a"))).start()
    yield made
    made.stop()


@pytest.fixture
def source(agent: Agent) -> Iterator[WorkloadAPI]:
    with WorkloadAPI(agent.address, timeout=5) as src:
        yield src


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(header: dict[str, object], payload: dict[str, object], sig: bytes = b"") -> str:
    return ".".join(
        (_b64(json.dumps(header).encode()), _b64(json.dumps(payload).encode()), _b64(sig))
    )


def test_fetch_then_validate_here_and_by_the_agent(agent: Agent, source: WorkloadAPI) -> None:
    svid = source.fetch_jwt_svid(DB, "spiffe://a.example/audit")
    assert svid.spiffe_id == WEB and svid.audience == (DB, "spiffe://a.example/audit")
    assert svid.expires.timestamp() > time.time() + 200
    # Validated here against the JWK set from FetchJWTBundles ...
    checked = source.validate_jwt_svid(svid.token, DB)
    assert checked.spiffe_id == WEB and checked.claims["aud"] == [DB, "spiffe://a.example/audit"]
    # ... and by the agent (ValidateJWTSVID).
    assert source.validate_jwt_svid(svid.token, DB, local=False).spiffe_id == WEB
    # PyJWT agrees that what we fetched is a valid ES256 token for DB.
    assert jwt.decode(svid.token, agent.jwt_key.public_key(), ["ES256"], audience=DB)["sub"] == WEB
    assert agent.calls_without_header == 0


def test_another_audience_is_refused_here_and_by_the_agent(source: WorkloadAPI) -> None:
    token = source.fetch_jwt_svid(DB).token
    with pytest.raises(JWTSVIDError, match=r"is for spiffe://a.example/db, not for .*/billing"):
        source.validate_jwt_svid(token, f"spiffe://{A}/billing")
    with pytest.raises(JWTSVIDError, match="(?i)the agent refused the JWT-SVID: .*audience"):
        source.validate_jwt_svid(token, f"spiffe://{A}/billing", local=False)


def test_expired_and_not_yet_valid(agent: Agent, source: WorkloadAPI) -> None:
    bundles = source.jwt_bundles()
    expired = agent.mint_jwt([DB], ttl=-120)
    with pytest.raises(JWTSVIDError, match="expired at"):
        validate_jwt_svid(expired, DB, bundles)
    # Within the clock-skew leeway (30 s) it is still accepted; without leeway it is not.
    recent = agent.mint_jwt([DB], ttl=-5)
    assert validate_jwt_svid(recent, DB, bundles).spiffe_id == WEB
    with pytest.raises(JWTSVIDError, match="expired"):
        validate_jwt_svid(recent, DB, bundles, leeway=0)
    later = agent.mint_jwt([DB], nbf=int(time.time()) + 600)
    with pytest.raises(JWTSVIDError, match="not valid before"):
        validate_jwt_svid(later, DB, bundles)


def test_algorithm_attacks_are_refused(agent: Agent, source: WorkloadAPI) -> None:
    bundles = source.jwt_bundles()
    claims = {"sub": WEB, "aud": [DB], "exp": int(time.time()) + 300}
    with pytest.raises(JWTSVIDError, match="'none' is not allowed"):
        validate_jwt_svid(_forge({"alg": "none", "kid": agent.jwt_kid}, claims), DB, bundles)
    # An HMAC keyed with the (public) key's bytes: the classic algorithm confusion.
    public = agent.jwt_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    unsigned = _forge({"alg": "HS256", "kid": agent.jwt_kid}, claims).rsplit(".", 1)[0]
    mac = hmac.new(public, unsigned.encode(), hashlib.sha256).digest()
    confused = f"{unsigned}.{_b64(mac)}"
    with pytest.raises(JWTSVIDError, match="'HS256' is not allowed"):
        validate_jwt_svid(confused, DB, bundles)
    # The right algorithm name with a key of another curve.
    es384 = jwt.encode(claims, agent.jwt_key, "ES256", headers={"kid": agent.jwt_kid})
    _, rest = es384.split(".", 1)
    relabelled = _b64(json.dumps({"alg": "ES384", "kid": agent.jwt_kid}).encode()) + "." + rest
    with pytest.raises(JWTSVIDError, match="not on that curve"):
        validate_jwt_svid(relabelled, DB, bundles)
    with pytest.raises(JWTSVIDError, match="no kid"):
        validate_jwt_svid(jwt.encode(claims, agent.jwt_key, "ES256"), DB, bundles)


def test_keys_and_trust_domains(agent: Agent, source: WorkloadAPI) -> None:
    bundles = source.jwt_bundles()
    assert set(bundles) == {A} and agent.jwt_kid in bundles[A].keys
    other = ec.generate_private_key(ec.SECP256R1())
    claims = {"sub": WEB, "aud": [DB], "exp": int(time.time()) + 300}
    # A key nobody published, under a published key ID: the signature fails.
    forged = jwt.encode(claims, other, "ES256", headers={"kid": agent.jwt_kid})
    with pytest.raises(JWTSVIDError, match="signature does not verify"):
        validate_jwt_svid(forged, DB, bundles)
    unknown = jwt.encode(claims, other, "ES256", headers={"kid": "nobody"})
    with pytest.raises(JWTSVIDError, match="names key 'nobody'"):
        validate_jwt_svid(unknown, DB, bundles)
    # b.example's ID with no b.example bundle, then with one: a.example's key cannot vouch.
    foreign = {**claims, "sub": f"spiffe://{B}/web"}
    token = jwt.encode(foreign, agent.jwt_key, "ES256", headers={"kid": agent.jwt_kid})
    with pytest.raises(JWTSVIDError, match="trust domain b.example, for which there is no"):
        validate_jwt_svid(token, DB, bundles)
    b_key = ec.generate_private_key(ec.SECP256R1())
    agent.federated_jwt[B] = {"b1": b_key.public_key()}
    agent.rotate_jwt_key(agent.jwt_kid)  # publish (same kid, new key: old tokens fail)
    with pytest.raises(JWTSVIDError):
        source.validate_jwt_svid(token, DB)
    good_b = jwt.encode(foreign, b_key, "ES256", headers={"kid": "b1"})
    assert source.validate_jwt_svid(good_b, DB).spiffe_id == f"spiffe://{B}/web"
    # A changed payload under a good signature.
    head, _payload, sig = source.fetch_jwt_svid(DB).token.split(".")
    changed = ".".join((head, _b64(json.dumps({**claims, "sub": DB}).encode()), sig))
    with pytest.raises(JWTSVIDError, match="altered or forged"):
        source.validate_jwt_svid(changed, DB)


def test_a_rotated_jwt_key_is_fetched_when_first_seen(agent: Agent, source: WorkloadAPI) -> None:
    assert source.validate_jwt_svid(source.fetch_jwt_svid(DB).token, DB).spiffe_id == WEB
    agent.rotate_jwt_key("k2")
    token = source.fetch_jwt_svid(DB).token
    assert jwt.get_unverified_header(token)["kid"] == "k2"
    assert source.validate_jwt_svid(token, DB).spiffe_id == WEB  # bundles refreshed once


@pytest.mark.parametrize("alg", ["RS256", "RS384", "PS256", "PS512", "ES384", "ES512"])
def test_every_allowed_algorithm_from_another_implementation(alg: str) -> None:
    key = (
        rsa.generate_private_key(65537, 2048)
        if alg[0] in "RP"
        else ec.generate_private_key(ec.SECP384R1() if alg == "ES384" else ec.SECP521R1())
    )
    algo = jwt.algorithms.RSAAlgorithm if alg[0] in "RP" else jwt.algorithms.ECAlgorithm
    jwk = json.loads(algo.to_jwk(key.public_key())) | {"kid": "x", "use": "jwt-svid"}
    bundle = parse_jwks(json.dumps({"keys": [jwk]}), A)
    token = jwt.encode(
        {"sub": WEB, "aud": DB, "exp": int(time.time()) + 60}, key, alg, headers={"kid": "x"}
    )
    assert validate_jwt_svid(token, DB, {A: bundle}).audience == (DB,)


def test_bundles_and_agents_that_cannot_be_used(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a JWK set"):
        parse_jwks(b'{"kty": "EC"}', A)
    with pytest.raises(ConfigError, match="not JSON"):
        parse_jwks(b"\xff", A)
    x509_only = parse_jwks(json.dumps({"keys": [{"kid": "c", "use": "x509-svid"}]}), A)
    assert x509_only.keys == {}
    gone = WorkloadAPI(f"unix://{tmp_path}/none.sock")
    with pytest.raises(WorkloadAPIError, match="did not answer FetchJWTSVID"):
        gone.fetch_jwt_svid(DB, timeout=1)


BUNDLES = {A: JWTBundle(A, {"k": ec.generate_private_key(ec.SECP256R1()).public_key()})}


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=200),
        st.lists(st.binary(max_size=60), min_size=3, max_size=3).map(
            lambda parts: ".".join(_b64(p) for p in parts)
        ),
        st.dictionaries(st.sampled_from(["alg", "kid", "typ"]), st.text(max_size=8)).map(
            lambda h: _forge(h, {"sub": WEB, "aud": DB, "exp": 2**31})
        ),
    )
)
def test_hostile_tokens_are_refused_never_raise_anything_else(token: str) -> None:
    with pytest.raises(JWTSVIDError):
        validate_jwt_svid(token, DB, BUNDLES)


def test_a_key_the_agent_dropped_stops_vouching(agent: Agent) -> None:
    from zerotls.spiffe.source import JWT_BUNDLES_MAX_AGE

    offset = [0.0]
    with WorkloadAPI(agent.address, timeout=5, clock=lambda: time.time() + offset[0]) as src:
        old = src.fetch_jwt_svid(DB).token
        assert src.validate_jwt_svid(old, DB).spiffe_id == WEB  # bundles fetched and kept
        agent.rotate_jwt_key("k2")  # k1 is gone from the agent's bundle
        assert src.validate_jwt_svid(old, DB).spiffe_id == WEB  # within the cache's age
        offset[0] = JWT_BUNDLES_MAX_AGE + 1
        with pytest.raises(JWTSVIDError, match="names key 'k1'"):
            src.validate_jwt_svid(old, DB)
