"""Several agent processes of one role as one client: requests go to the live worker with the
fewest outstanding; a worker that dies fails only the requests it holds (the others go on, and
later requests go to the workers left)."""

from __future__ import annotations

from . import schema
from .client import AgentClient, AgentUnavailable


class WorkerPool:
    """`clients`: one AgentClient per worker process, in worker order. A request's handle is
    (worker index, request id). `busy_s[k]`: the compute_s of worker k's replies, summed (its
    busy time: a batch's reply carries the batch's wall time over its size)."""

    def __init__(self, clients: list[AgentClient]):
        if not clients:
            raise ValueError("a worker pool needs at least one client")
        self.clients = list(clients)
        self.busy_s = [0.0] * len(self.clients)

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
        answer = self.clients[k].join(rid)
        self.busy_s[k] += float(answer.header.get("compute_s", 0.0))
        return answer

    def call(self, msg: schema.Message) -> schema.Message:
        return self.join(self.submit(msg))
