"""Plain Inspect, for the throughput benchmark's floor row: ``samples`` samples whose solver makes
chained ``generate`` calls (each waits for the previous), ``requests`` calls in all, spread as evenly
as possible. No package code: what Inspect itself costs for the same number of chained requests."""

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessageUser
from inspect_ai.solver import Generate, Solver, TaskState, solver


@solver
def chained(calls: dict[str, int]) -> Solver:
    async def solve(state: TaskState, generate: Generate) -> TaskState:
        for turn in range(calls[str(state.sample_id)]):
            if turn:
                state.messages.append(ChatMessageUser(content=f"Please go on ({turn})."))
            state = await generate(state)
        return state

    return solve


@task
def plain(samples: int = 200, requests: int = 600) -> Task:
    base, extra = divmod(requests, samples)
    calls = {str(i): base + (1 if i < extra else 0) for i in range(samples)}
    dataset = MemoryDataset([Sample(id=i, input=f"Say something ({i}).") for i in range(samples)])
    return Task(dataset=dataset, solver=chained(calls))
