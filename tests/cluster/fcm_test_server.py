"""The local FCM test server as a process of `make cluster`: the cluster's workers push to it through the real
pyfcm backend, and every message it accepts is appended to a JSON-lines file that the cluster tests and the
scaling bench read (a push sent twice shows as two lines with the same reference).

    python -m tests.cluster.fcm_test_server --port 8191 --credentials FILE --log FILE
"""
import argparse
import json
import signal
import threading
import time

from tests.fcm_server import FCMTestServer, _handler_for, _Server


def serve(port: int, credentials: str, log_path: str) -> None:
    server = FCMTestServer()
    server._server = _Server(("127.0.0.1", port), _handler_for(server))
    threading.Thread(target=server._server.serve_forever, name="fcm-test-server", daemon=True).start()
    server.service_account_file(credentials)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    written = 0
    with open(log_path, "a", encoding="utf-8") as log:
        while True:
            messages = list(server.messages)  # appended by the handler threads; read a copy
            for message in messages[written:]:
                if message.status == 0:  # still being answered: read again on the next round
                    break
                if message.status == 200:
                    log.write(json.dumps({"at": message.at, "token": message.token,
                                          "data": message.message.get("data", {})}) + "\n")
                written += 1
            log.flush()
            if stop.is_set():
                break
            time.sleep(0.2)
    server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--credentials", required=True, help="service-account JSON written for this server")
    parser.add_argument("--log", required=True, help="JSON-lines file receiving each accepted message")
    options = parser.parse_args()
    serve(options.port, options.credentials, options.log)


if __name__ == "__main__":
    main()
