"""A DNS server on loopback for tests (dnslib): answers TXT queries from a JSON file
({"name": ["value", ...]}), read again at every query, so a test publishes a record by
rewriting the file. Usage: dns_server.py <port> <records.json>"""

import json
import sys
import time

from dnslib import QTYPE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class Records(BaseResolver):
    def __init__(self, path):
        self.path = path

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        try:
            with open(self.path, encoding="utf-8") as f:
                records = json.load(f)
        except (OSError, ValueError):
            records = {}
        if request.q.qtype == QTYPE.TXT:
            for value in records.get(name, []):
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(value), ttl=1))
        return reply


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    server = DNSServer(Records(path), port=port, address="127.0.0.1", logger=DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data"))
    server.start_thread()
    print(f"dns ready on 127.0.0.1:{port}", flush=True)
    while server.isAlive():
        time.sleep(0.5)


if __name__ == "__main__":
    main()
