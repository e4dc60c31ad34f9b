# TestPyTracebacker: GET /block writes DIR/entered, then waits (up to 20 s)
# for DIR/release, so the test reads the tracebacker while the request runs.
import os
import time


def wait_for_release(path):
    deadline = time.time() + 20
    while not os.path.exists(path) and time.time() < deadline:
        time.sleep(0.05)


def application(env, start_response):
    d = os.environ["TB_DIR"]
    open(os.path.join(d, "entered"), "w").close()
    wait_for_release(os.path.join(d, "release"))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"released"]
