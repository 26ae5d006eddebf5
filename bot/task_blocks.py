"""Block Kit for follow-up tasks: the App Home list with a "Done" button per task.

The button's value is the task id only; who may close it and everything shown is re-read from
the database. Titles are escaped (they carry account names).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.blocks import Block, Rendered, button, esc, message, section
from bot.slack_out import mention
from tools.alert_actions import TaskView

ACTION_TASK_DONE = "task_done"
ACTIONS = frozenset({ACTION_TASK_DONE})
MAX_TASK_ROWS = 10


def _line(task: TaskView) -> str:
    return (
        f"#{task.task_id} {esc(task.title)}"
        + (f" · {mention(task.assignee)}" if task.assignee else "")
        + (" · in Notion" if task.notion_status == "written" else "")
    )


def home_tasks(tasks: Sequence[TaskView]) -> list[Block]:
    """The viewer's open follow-up tasks, each with a "Done" button."""
    if not tasks:
        return [section("*Your open tasks*\n_none — “Create task” on a churn alert adds one_")]
    rows = [
        section(
            _line(t), accessory=button("Done", ACTION_TASK_DONE, str(t.task_id), style="primary")
        )
        for t in tasks[:MAX_TASK_ROWS]
    ]
    return [section("*Your open tasks*"), *rows]


def task_done_receipt(task: TaskView, *, applied: bool) -> Rendered:
    """The private answer to whoever pressed "Done"."""
    if applied:
        text = f":ballot_box_with_check: Task #{task.task_id} done — {esc(task.title)}."
    else:
        text = f":information_source: Task #{task.task_id} was already done."
    return message([section(text)], f"Task #{task.task_id}")
