"""1 MiB bodies in both directions.

GET  -> 200, a fixed 1 MiB body (a repeating 0..250 byte pattern, so a
        truncated or shifted body is detected by comparing bytes)
POST -> 200, the request body echoed back after reading all of wsgi.input;
        400 if fewer bytes than Content-Length arrived
"""

SIZE = 1 << 20
BODY = bytes(i % 251 for i in range(SIZE))


def application(environ, start_response):
    if environ["REQUEST_METHOD"] != "POST":
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(SIZE))])
        return [BODY]
    want = int(environ.get("CONTENT_LENGTH") or 0)
    stream = environ["wsgi.input"]
    chunks, got = [], 0
    while got < want:
        data = stream.read(min(65536, want - got))
        if not data:
            break
        chunks.append(data)
        got += len(data)
    if got != want:
        msg = b"short body: %d of %d bytes\n" % (got, want)
        start_response("400 Bad Request", [("Content-Type", "text/plain"),
                                           ("Content-Length", str(len(msg)))])
        return [msg]
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(got))])
    return chunks
