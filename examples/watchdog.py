#!/usr/bin/env python3
"""A daemon written for systemd's watchdog, run unchanged by supervise: it reads
WATCHDOG_USEC, says READY=1 and pings WATCHDOG=1 at half that period on NOTIFY_SOCKET,
with a STATUS line, until it hangs. See examples/watchdog.toml."""
import os
import socket
import time


def notify(message):
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.connect(addr)
        s.sendall(message.encode())


period = int(os.environ.get("WATCHDOG_USEC", "2000000")) / 1e6 / 2
notify("READY=1\nSTATUS=serving")
print("serving", flush=True)
for n in range(1, 6):
    time.sleep(period)
    notify(f"WATCHDOG=1\nSTATUS=served {n} requests")
print("stuck in a deadlock", flush=True)
time.sleep(3600)
