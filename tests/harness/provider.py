"""An identity provider of a test's own: it signs tokens with keys it makes, and serves the
public halves it publishes as a JWKS document over HTTP, from a thread of the test process on
a free port of loopback. It records every request it gets, and can be made to fail."""

import base64
import functools
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

JWKS_PATH = "/.well-known/jwks.json"
# Each algorithm's key: how to make one, and how to write its public half as a JWK.
KINDS = {
    "RS256": (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
              RSAAlgorithm),
    "ES256": (lambda: ec.generate_private_key(ec.SECP256R1()), ECAlgorithm),
    "EdDSA": (ed25519.Ed25519PrivateKey.generate, OKPAlgorithm),
}
# How the provider answers: with its document; 503; with text that is no JSON; by closing
# the connection without a word; or not at all until the test ends.
SERVING, DOWN, GARBAGE, DROPPING, HANGING = "serving", "down", "garbage", "dropping", "hanging"


@dataclass(frozen=True)
class Seen:
    path: str
    at: float  # time.monotonic() when it came


class Provider:
    def __init__(self):
        self.private = {}  # kid -> (algorithm, private key)
        self.published = []  # the JWKs of the document, in order
        self.extra = {}  # path -> a document served there too (an attacker's, say)
        self.mode = SERVING
        self.seen: list[Seen] = []
        self._ended = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.provider = self
        # shutdown() waits for serve_forever's next look at its flag: every half a second by
        # default, in each test's teardown.
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return self.base + JWKS_PATH

    def start(self) -> "Provider":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._ended.set()  # a hanging answer ends now
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def new_key(self, kid: str, algorithm="RS256", publish=True) -> str:
        """A key for ``algorithm`` named ``kid``, another than every other name's; publish
        its public half unless told not to."""
        self.private[kid] = (algorithm, _key(kid, algorithm))
        if publish:
            self.publish(kid)
        return kid

    def jwk(self, name: str, **fields) -> dict:
        """The public JWK of the key ``name``, as providers write them (``kid`` its name),
        with ``fields`` changed."""
        algorithm, key = self.private[name]
        written = KINDS[algorithm][1].to_jwk(key.public_key(), as_dict=True)
        return {**written, "kid": name, "use": "sig", "alg": algorithm, **fields}

    def public_pem(self, kid: str) -> str:
        return self.private[kid][1].public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def publish(self, *kids: str, **fields) -> None:
        """Add the public halves of ``kids`` to the document."""
        self.published = self.published + [self.jwk(kid, **fields) for kid in kids]

    def withdraw(self, kid: str) -> None:
        self.published = [jwk for jwk in self.published if jwk.get("kid") != kid]

    def document(self) -> dict:
        return {"keys": self.published}

    def sign(self, claims: dict, kid: str, headers=None, algorithm=None) -> str:
        """A token of ``claims`` signed with ``kid``'s private key, its header naming
        ``kid`` (and holding ``headers``)."""
        own_algorithm, key = self.private[kid]
        return jwt.encode(claims, key, algorithm=algorithm or own_algorithm,
                          headers={"kid": kid, **(headers or {})})

    def forge(self, header: dict, claims: dict, kid: str) -> str:
        """A token with exactly ``header`` (which PyJWT would not write, a ``kid`` that is
        no text say), signed with ``kid``'s private key by ``header``'s algorithm."""
        def segment(value) -> bytes:
            raw = json.dumps(value, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).rstrip(b"=")

        signing_input = segment(header) + b"." + segment(claims)
        algorithm = jwt.get_algorithm_by_name(header["alg"])
        signature = algorithm.sign(signing_input, self.private[kid][1])
        return (signing_input + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()

    def fetches(self, since=float("-inf")) -> list[Seen]:
        """The requests for the JWKS document that came after ``since``."""
        return [seen for seen in list(self.seen) if seen.path == JWKS_PATH and seen.at > since]

    def paths(self) -> set[str]:
        return {seen.path for seen in list(self.seen)}


@functools.cache
def _key(kid: str, algorithm: str):
    """One key per name and algorithm in this process: a provider of a test's own still
    signs with keys no other name has, and an RSA key is made once, not in each of the
    hundred tests that ask for ``k1`` (45 ms each)."""
    make, _ = KINDS[algorithm]
    return make()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        provider = self.server.provider
        provider.seen.append(Seen(self.path, time.monotonic()))
        mode = provider.mode
        if mode == HANGING:
            provider._ended.wait(120)
            return
        if mode == DROPPING:
            self.close_connection = True
            return
        if mode == DOWN:
            self._answer(503, b'{"error": "unavailable"}')
        elif mode == GARBAGE:
            self._answer(200, b'{"keys": [ this is not JSON')
        else:
            document = provider.extra.get(self.path) if self.path != JWKS_PATH \
                else provider.document()
            if document is None:
                self._answer(404, b"{}")
            else:
                self._answer(200, json.dumps(document).encode())

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass  # the test reads ``seen``
