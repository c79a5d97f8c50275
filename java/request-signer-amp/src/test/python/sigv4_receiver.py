#!/usr/bin/env python3
"""A Remote-Write receiver on 127.0.0.1 that checks every request's AWS SigV4 signature with
botocore, an implementation independent of the AWS SDK for Java that signs the requests.

For each POST it recomputes the signature over the request exactly as received (method, path,
query, the headers the request says it signed with their received values, Host included, and
the received body) with botocore's SigV4Auth and the credentials given in the environment, and
compares it with the Authorization header. It also checks what botocore takes on trust: the
credential scope, the session token header, x-amz-content-sha256 against the body, and that the
headers a Remote-Write receiver relies on are signed.

The first --fail-first attempts are answered --fail-status (after verification) to make the
sink retry. A request with a bad signature is answered 403, as Amazon Managed Prometheus does;
a good one 204, with X-Prometheus-Remote-Write-Samples-Written for Remote-Write 2.0. The
samples of good requests are decoded (snappy, protobuf) and kept.

GET /report answers JSON: {"requests": [verdict, ...], "samples": [[labels, ts, value], ...]}.

Environment: SIGV4_ACCESS_KEY_ID, SIGV4_SECRET_ACCESS_KEY, SIGV4_SESSION_TOKEN (optional),
SIGV4_REGION, SIGV4_SERVICE. Prints "PORT <n>" once listening.
"""

import argparse
import hashlib
import hmac
import json
import os
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
# What a Remote-Write request's meaning depends on: a signer must cover these.
REQUIRED_SIGNED = {
    "host",
    "x-amz-date",
    "content-encoding",
    "content-type",
    "x-prometheus-remote-write-version",
}


def snappy_decompress(data):
    """Snappy block format (what Remote-Write sends)."""
    pos, length, shift = 0, 0, 0
    while True:
        b = data[pos]
        pos += 1
        length |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            break
    out = bytearray()
    while pos < len(data):
        tag = data[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:  # literal
            n = tag >> 2
            if n >= 60:
                extra = n - 59
                n = int.from_bytes(data[pos : pos + extra], "little")
                pos += extra
            n += 1
            out += data[pos : pos + n]
            pos += n
            continue
        if kind == 1:
            n = ((tag >> 2) & 7) + 4
            offset = ((tag >> 5) << 8) | data[pos]
            pos += 1
        elif kind == 2:
            n = (tag >> 2) + 1
            offset = int.from_bytes(data[pos : pos + 2], "little")
            pos += 2
        else:
            n = (tag >> 2) + 1
            offset = int.from_bytes(data[pos : pos + 4], "little")
            pos += 4
        if offset == 0 or offset > len(out):
            raise ValueError("snappy: bad copy offset")
        for _ in range(n):  # copies may overlap their own output
            out.append(out[-offset])
    if len(out) != length:
        raise ValueError(f"snappy: {len(out)} bytes, header says {length}")
    return bytes(out)


def varint(data, pos):
    value, shift = 0, 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, pos


def fields(data):
    """(field number, wire type, value) of a protobuf message: ints for varints, bytes else."""
    pos = 0
    while pos < len(data):
        key, pos = varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 2:
            n, pos = varint(data, pos)
            value, pos = data[pos : pos + n], pos + n
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"protobuf: wire type {wire}")
        yield number, wire, value


def sample(data):
    value, ts = 0.0, 0
    for number, _, v in fields(data):
        if number == 1:
            value = struct.unpack("<d", v)[0]
        elif number == 2:
            ts = v - (1 << 64) if v >= (1 << 63) else v
    return ts, value


def labels_text(pairs):
    return ",".join(f"{n}={v}" for n, v in sorted(pairs))


def decode(body, v2):
    """[labels, timestamp, value] of every sample of a (decompressed) request."""
    out = []
    if not v2:
        for number, _, series in fields(body):
            if number != 1:
                continue
            labels, samples = [], []
            for n, _, v in fields(series):
                if n == 1:
                    pair = {k: x.decode() for k, _, x in fields(v)}
                    labels.append((pair.get(1, ""), pair.get(2, "")))
                elif n == 2:
                    samples.append(sample(v))
            out += [[labels_text(labels), ts, value] for ts, value in samples]
        return out
    symbols, series_list = [], []
    for number, _, v in fields(body):
        if number == 4:
            symbols.append(v.decode())
        elif number == 5:
            series_list.append(v)
    for series in series_list:
        refs, samples = [], []
        for n, wire, v in fields(series):
            if n == 1 and wire == 2:  # packed
                pos = 0
                while pos < len(v):
                    r, pos = varint(v, pos)
                    refs.append(r)
            elif n == 1:
                refs.append(v)
            elif n == 2:
                samples.append(sample(v))
        labels = [(symbols[refs[i]], symbols[refs[i + 1]]) for i in range(0, len(refs), 2)]
        out += [[labels_text(labels), ts, value] for ts, value in samples]
    return out


def parse_authorization(value):
    """(access key, scope parts, signed headers, signature) or an exception."""
    if not value.startswith(ALGORITHM + " "):
        raise ValueError("Authorization is not " + ALGORITHM)
    parts = {}
    for part in value[len(ALGORITHM) + 1 :].split(","):
        name, _, v = part.strip().partition("=")
        parts[name] = v
    credential = parts["Credential"].split("/")
    if len(credential) != 5:
        raise ValueError("Credential is not key/date/region/service/aws4_request")
    return credential[0], credential[1:], parts["SignedHeaders"].split(";"), parts["Signature"]


class Verifier:
    def __init__(self, credentials, region, service):
        self.credentials = credentials
        self.region = region
        self.service = service

    def check(self, method, path, headers, body):
        """None when the signature is right, else why not. `headers`: (name, value) pairs."""
        received = {}
        for name, value in headers:
            received.setdefault(name.lower(), []).append(value)
        authorization = received.get("authorization", [None])[0]
        if authorization is None:
            return "no Authorization header"
        try:
            key, scope, signed, signature = parse_authorization(authorization)
        except (ValueError, KeyError) as e:
            return f"malformed Authorization: {e}"
        date = received.get("x-amz-date", [""])[0]
        if key != self.credentials.access_key:
            return f"access key {key} is not the expected one"
        if scope != [date[:8], self.region, self.service, "aws4_request"]:
            return f"credential scope {scope} does not match date {date}"
        if sorted(signed) != signed or len(set(signed)) != len(signed):
            return "SignedHeaders not sorted and unique"
        required = set(REQUIRED_SIGNED)
        if self.credentials.token:
            required.add("x-amz-security-token")
            if received.get("x-amz-security-token") != [self.credentials.token]:
                return "X-Amz-Security-Token missing or not the session token"
        missing = required - set(signed)
        if missing:
            return f"headers not signed: {sorted(missing)}"
        unsent = [h for h in signed if h not in received]
        if unsent:
            return f"signed headers not sent: {unsent}"
        content_sha = received.get("x-amz-content-sha256")
        if content_sha is not None and content_sha != [hashlib.sha256(body).hexdigest()]:
            return "x-amz-content-sha256 is not the body's SHA-256"
        # Recompute over exactly what arrived: the signed headers with their received values.
        to_sign = HTTPHeaders()
        for h in signed:
            for v in received[h]:
                to_sign[h] = v  # appends: a repeated header keeps every value
        request = AWSRequest(
            method=method, url="http://" + received["host"][0] + path, headers=to_sign, data=body
        )
        request.context["timestamp"] = date
        auth = SigV4Auth(self.credentials, self.service, self.region)
        if auth.signed_headers(auth.headers_to_sign(request)) != ";".join(signed):
            return "botocore would sign other headers"
        canonical = auth.canonical_request(request)
        expected = auth.signature(auth.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(expected, signature):
            return "signature mismatch"
        return None


class State:
    def __init__(self, verifier, fail_first, fail_status):
        self.verifier = verifier
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.lock = threading.Lock()
        self.requests = []
        self.samples = []


def handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def answer(self, status, body=b"", extra=()):
            self.send_response(status)
            for name, value in extra:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path != "/report":
                return self.answer(404)
            with state.lock:
                report = {"requests": state.requests, "samples": state.samples}
            self.answer(200, json.dumps(report).encode(), [("Content-Type", "application/json")])

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = list(self.headers.items())
            why = state.verifier.check("POST", self.path, headers, body)
            content_type = self.headers.get("Content-Type", "")
            v2 = "io.prometheus.write.v2.Request" in content_type
            with state.lock:
                attempt = len(state.requests)
                if attempt < state.fail_first:
                    status = state.fail_status
                elif why is not None:
                    status = 403
                else:
                    status = 204
                decoded = []
                if status == 204:
                    try:
                        decoded = decode(snappy_decompress(body), v2)
                    except (ValueError, IndexError) as e:
                        why, status = f"undecodable body: {e}", 400
                state.samples += decoded
                state.requests.append(
                    {
                        "status": status,
                        "valid": why is None,
                        "reason": why,
                        "date": self.headers.get("X-Amz-Date"),
                        "contentType": content_type,
                        "version": self.headers.get("X-Prometheus-Remote-Write-Version"),
                        "samples": len(decoded),
                        "signedHeaders": [
                            h.strip()
                            for h in self.headers.get("Authorization", "")
                            .partition("SignedHeaders=")[2]
                            .partition(",")[0]
                            .split(";")
                            if h
                        ],
                    }
                )
            extra = []
            if status == 204 and v2:
                extra.append(("X-Prometheus-Remote-Write-Samples-Written", str(len(decoded))))
            self.answer(status, b"" if status == 204 else (why or "try again").encode(), extra)

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--fail-status", type=int, default=500)
    args = parser.parse_args()
    env = os.environ
    credentials = Credentials(
        env["SIGV4_ACCESS_KEY_ID"],
        env["SIGV4_SECRET_ACCESS_KEY"],
        env.get("SIGV4_SESSION_TOKEN") or None,
    )
    verifier = Verifier(credentials, env["SIGV4_REGION"], env["SIGV4_SERVICE"])
    state = State(verifier, args.fail_first, args.fail_status)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(state))
    print(f"PORT {server.server_address[1]}", flush=True)
    # Ends when the test closes stdin (or dies).
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
