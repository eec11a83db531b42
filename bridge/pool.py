"""Several agent processes of one role as one client: requests go to the live worker with the
fewest outstanding; a worker that dies fails only the requests it holds (the others go on, and
later requests go to the workers left)."""

from __future__ import annotations

from . import schema
from .client import AgentClient, AgentUnavailable


class WorkerPool:
    """`clients`: one AgentClient per worker process, in worker order. A request's handle is
    (worker index, request id)."""

    def __init__(self, clients: list[AgentClient]):
        if not clients:
            raise ValueError("a worker pool needs at least one client")
        self.clients = list(clients)

    def alive(self, k: int) -> bool:
        c = self.clients[k]
        return not c.dead and (c.exit_reason is None or c.exit_reason() is None)

    def submit(self, msg: schema.Message) -> tuple[int, int]:
        live = [k for k in range(len(self.clients)) if self.alive(k)]
        if not live:
            # Every worker is gone: the first one's submit raises with its reason.
            return 0, self.clients[0].submit(msg)
        k = min(live, key=lambda i: (self.clients[i].outstanding, i))
        try:
            return k, self.clients[k].submit(msg)
        except AgentUnavailable:
            if len(live) == 1:
                raise
            return self.submit(msg)   # it died just now: the others

    def join(self, handle: tuple[int, int]) -> schema.Message:
        k, rid = handle
        return self.clients[k].join(rid)

    def call(self, msg: schema.Message) -> schema.Message:
        return self.join(self.submit(msg))
