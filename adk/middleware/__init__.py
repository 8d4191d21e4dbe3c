"""Ready-made dispatch middleware (PORT.md §8), each plain middleware on the public API.

Put them in a runner's ``dispatch_input_pipeline`` (they run before every executor call)::

    from adk.middleware import max_iterations, max_tool_rounds, repeated_tool_call_guard

    runner = adk.TurnRunner(
        executor=executor,
        tools=[...],
        dispatch_input_pipeline=[
            max_iterations(6, final_answer=True),  # a hard cap on the loop
            repeated_tool_call_guard(),            # an identical call twice: answer now
        ],
    )

* :func:`max_iterations` caps the dispatch loop: at the cap it nacks with
  :class:`E_MAX_ITERATIONS`, or (``final_answer=True``) hides every tool for one last
  iteration so the model has to answer.
* :func:`repeated_tool_call_guard` hides every tool once the model repeats an identical
  call (same ``tool_call_checksum``), counted with ``ctx.tool_call_count``.
* :func:`max_tool_rounds` hides every tool after ``n`` iterations that called tools (for
  small models that never stop calling them).

Hiding changes only the dispatch's own tool registry (``ctx.tools`` is a per-dispatch
copy): the runner's tools are untouched and the next turn starts with all of them.
"""

from adk.middleware._loop import (
    E_INVALID_MIDDLEWARE_OPTIONS,
    E_MAX_ITERATIONS,
    DispatchMiddleware,
    OnHide,
    hide_all_tools,
    max_iterations,
    max_tool_rounds,
    repeated_tool_call_guard,
)

__all__ = [
    "E_INVALID_MIDDLEWARE_OPTIONS",
    "E_MAX_ITERATIONS",
    "DispatchMiddleware",
    "OnHide",
    "hide_all_tools",
    "max_iterations",
    "max_tool_rounds",
    "repeated_tool_call_guard",
]
